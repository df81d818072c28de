// Package swarm downloads one resource from every server an rtp: URL lists
// at once, and never reports success without the hash.
//
//	d := swarm.New(swarm.Config{URL: u, Client: opts})
//	res, err := d.Run(ctx, part, statePath, nil)
//
// The resource is cut into blocks (1 MiB by default). Each server gets one
// or more sessions, each keeping a window of READs in flight; a session takes
// the lowest missing block whenever a READ finishes, so fast servers fetch
// more blocks than slow ones. A session that receives no bytes for the stall
// timeout is closed and its blocks go back to the pool; the stall timeout
// also bounds the dial, the handshake and the OPEN. A server that fails is
// retried with backoff until it has been failing for RetryFor, then
// dropped; one that answers "not found" is dropped at once. When no block is left unassigned, idle sessions fetch
// copies of blocks still in flight elsewhere (endgame) and the first copy to
// arrive wins; the other is discarded.
//
// With a blake3 urn and a server that offers its tree (package outboard),
// the tree is fetched and checked first, and every payload is checked in
// 16 KiB groups on arrival: only matching bytes reach the output, and a
// server that sends one bad group is banned at once. While the tree is on
// its way, a fresh download's sessions already fetch, up to 16 MiB, into
// memory; those blocks are checked when the tree comes (early.go).
//
// Config.Verify says which of the URL's urns must match: by default every
// one, as the wire contract asks; VerifyOne only the blake3 urn when there
// is one (see Verify). Blocks are written to the
// output as they arrive; when a hash is left to compute (no tree, or
// VerifyAll and a sha256), the contiguous prefix is read back and hashed as
// it grows, so the hash is ready when the last block lands. If it does not
// match, every block is fetched again from a different server than the one
// that sent it, blocks that differ are replaced, and the servers whose
// blocks were wrong are banned.
package swarm
