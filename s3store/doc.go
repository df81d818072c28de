// Package s3store serves the objects below a prefix of an S3-compatible
// bucket by hash, behind the same interfaces as the disk store
// (store.Backend, store.TreeOpener; its blobs are store.RangeReaders):
//
//	loc, err := s3store.ParseURL("s3://bucket/releases")
//	if err != nil { ... }
//	s, err := s3store.Open(loc, s3store.Config{Endpoint: "http://127.0.0.1:7070"}, store.Options{})
//	if err != nil { ... }
//	defer s.Close()
//	if _, err := s.Scan(ctx); err != nil { ... } // hashes each object once
//	go s.Watch(ctx, 5*time.Minute)              // new, replaced and removed objects
//	b, err := s.Open(ctx, h)                    // errors.Is(err, fs.ErrNotExist) when unknown
//
// The index (bbolt, a local file) keeps each object's key, size, ETag, both
// sums and whether its BLAKE3 tree was built; trees are kept beside it. A
// pass rehashes only the objects whose ETag or size changed. READs are
// ranged GETs conditional on the ETag that was hashed (If-Match) and are
// checked against the tree, so an object replaced under its key is never
// served under its old hash: such a READ fails with store.ErrChanged and the
// key is indexed again. A bucket that cannot be reached makes READs fail
// with errors wrapping store.ErrUnavailable until it is back.
package s3store
