// Package edge is a pull-through cache of blobs for rtpd: a store.Backend
// whose OPEN of a hash it lacks fills it from upstream RTP servers (origins
// or other edges) with package swarm, verified, into a cache folder.
//
//	e, err := edge.Open(edge.Config{
//		Upstreams: []rtpurl.Dial{{Proto: "tcp", Host: "origin", Port: 7777}},
//		Dir:       "/var/cache/rtpd",
//		MaxBytes:  50 << 30,
//	})
//	if err != nil { ... }
//	defer e.Close()
//	srv := server.New(server.Config{Store: e}) // serves blobs and trees
//
// Concurrent OPENs of one hash share one fill. With a blake3 urn the fill
// fetches the BLAKE3 tree first and swarm checks every byte against it
// before it reaches the .part file, so READs of the bytes in are answered
// while the fill goes on; a READ of bytes not yet in waits for them, as
// long as its session lasts. A sha256 urn has no tree on the wire: its
// fill is verified whole, and its bytes are readable once it completes.
// Each completed blob is hashed for its other urn and kept with its tree,
// so it is then served by both urns, its tree included (edges chain).
//
// A hash no upstream holds is answered "not found" and remembered for
// Config.NegativeTTL. Whole blobs are evicted least recently used past
// Config.MaxBytes, never one being read or filled. A restarted edge keeps
// its whole blobs (trusted from its index) and resumes an interrupted fill
// from swarm's resume state when the hash is asked for again.
package edge
