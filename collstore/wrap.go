package collstore

import (
	"context"
	"errors"
	"io/fs"

	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/urn"
)

// Store serves the backend's blobs, and the keeper's manifests by their
// hashes. Its List is the backend's: manifests are not files of the
// served folder.
type Store struct {
	store.Store
	k *Keeper
}

// treeStore is a Store in front of a backend that keeps trees.
type treeStore struct {
	*Store
	t store.TreeOpener
}

// Wrap returns a store.Store answering Open from back, and from k for a
// hash back does not hold. When back is a store.TreeOpener, so is the
// result (a manifest has no tree: clients verify it whole).
func Wrap(back store.Store, k *Keeper) store.Store {
	s := &Store{Store: back, k: k}
	if t, ok := back.(store.TreeOpener); ok {
		return &treeStore{Store: s, t: t}
	}
	return s
}

// Open opens h from the backend, else from the manifests.
func (s *Store) Open(ctx context.Context, h urn.Hash) (store.Blob, error) {
	b, err := s.Store.Open(ctx, h)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return b, err
	}
	if mb, merr := s.k.Open(ctx, h); merr == nil {
		return mb, nil
	}
	return nil, err
}

func (s *treeStore) OpenTree(ctx context.Context, h urn.Hash) (store.Blob, error) {
	return s.t.OpenTree(ctx, h)
}

var (
	_ store.Store      = (*Store)(nil)
	_ store.TreeOpener = (*treeStore)(nil)
)
