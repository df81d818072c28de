// Package outboard builds and checks the BLAKE3 tree of a resource (a bao
// outboard encoding with 16 KiB chunk groups), so that a client can verify
// each group of bytes the moment it arrives instead of the whole file at
// the end.
//
// A server builds the tree while it hashes a file:
//
//	e := outboard.NewEncoder(size, dst)     // dst: an io.WriterAt of Size(size) bytes
//	sums, err := urn.HashReaderWith(f, nil, e, urn.SHA256, urn.BLAKE3)
//	if err == nil { err = e.Err() }         // sums.BLAKE3 is the tree's root
//
// and serves it as the resource URI(root). A client that knows the root and
// the length fetches it, checks it, then checks data group by group:
//
//	t, err := outboard.NewTree(tree, root, size) // ErrBadTree: the tree lies
//	err = t.Check(off, p)                        // ErrCorrupt: p lies
//
// or, for a range that arrives in pieces of any size (the payloads of the
// READs that fetch it), through a Verifier that passes on only the whole
// groups that match:
//
//	v, err := outboard.NewVerifier(t, off, end, w) // off, end: group boundaries or the end
//	_, err = v.Write(payload)                      // ErrCorrupt: the sender lied; w got the good groups before
//	done := v.Done()                               // every byte of [off, end) reached w
//
// The format is bao's (lukechampine.com/blake3/bao with group 4): the length
// as a little-endian u64, then the two child chaining values of every parent
// node, in pre-order. The encoder and the checker are written against
// lukechampine.com/blake3/guts rather than bao's Encode and VerifyChunk
// because both must be incremental: Encode pulls from a reader (the index
// pass pushes buffers to hashers) and VerifyChunk walks the tree from the
// root on every call. The tests check both against bao byte for byte.
package outboard
