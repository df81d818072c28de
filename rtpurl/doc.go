// Package rtpurl parses and formats dial strings (tcp!host!7777) and rtp:
// URLs (rtp:?u=urn:sha256:…&l=…&s=…) as ../shared/wire-v1.md defines them.
//
//	u, err := rtpurl.Parse("rtp:?u=urn:sha256:…&l=42&s=tcp!example.org!7777")
//	for _, d := range u.Servers { fmt.Println(d.Proto, d.Address()) }
package rtpurl
