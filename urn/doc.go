// Package urn parses and formats the content identifiers RTP/1 serves:
// urn:sha256:<64 hex> and urn:blake3:<64 hex>.
//
//	h, err := urn.Parse("urn:sha256:E3B0C442...")
//	if err != nil { ... }
//	fmt.Println(h) // urn:sha256:e3b0c442... (lower-case hex)
//
// A Hash is a comparable value and can be used as a map key.
package urn
