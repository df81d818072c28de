// Package collection encodes and parses collection manifests: the bytes of
// an RTP resource that lists a folder tree, one line per file with its
// mode, size, blake3 and sha256 and path. A manifest is served and fetched
// like any other file; a URL marks it with t=application/vnd.rtp.collection.
//
//	b, err := collection.Encode([]collection.Entry{{Path: "a/b.txt", Size: 3, BLAKE3: b3, SHA256: s2}})
//	...
//	m, err := collection.Parse(bytes.NewReader(b), collection.Limits{})
//	for _, e := range m.Entries { ... }
//
// The encoding is canonical: one tree has exactly one encoding, so its
// hash names the tree. Parse enforces every rule, and its limits before it
// allocates anything for the entries a header claims. docs/protocol.md
// ("Collections: a folder tree as one resource") describes the format.
package collection
