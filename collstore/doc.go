// Package collstore is rtpd's side of collections: it builds the manifest
// of a folder from the index (Build), keeps manifests as files in the
// index folder (Keeper), and serves them by hash in front of the
// backend's store (Wrap), so that the RTP server answers OPEN and READ for
// a tree's manifest like for any file.
//
//	k := collstore.NewKeeper(collstore.Dir(backend.IndexDir()), log)
//	srv := server.New(server.Config{Store: collstore.Wrap(backend, k)})
//	es, err := collstore.Build(ctx, backend, backend.Location(), "models/llama", log)
//	b, _ := collection.Encode(es)
//	sums, err := k.Save(b)
package collstore
