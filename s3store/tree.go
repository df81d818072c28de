package s3store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"go.etcd.io/bbolt"

	"github.com/rtp-project/rtp/outboard"
	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/urn"
)

// Trees are kept beside the index, as the disk store keeps them, not as
// objects under the prefix: the origin then needs only read access to the
// bucket, a tree costs no request to serve (a client asks for it before
// any READ), and the bucket holds only what its owners put there. They are
// rebuilt from the objects if the index is lost. A tree of up to
// store.MaxInlineTree bytes (objects up to 16 MiB) is kept in the index; a
// larger one is a file, INDEX.trees/<hex>, written beside and renamed
// into place before the entry that names it is committed.

func (s *Store) treeDir() string { return s.db.Path() + ".trees" }

// newTreeSink returns the sink of an n-byte object's tree, or nil when none
// is built: with NoTrees, or for one group, whose tree is its length.
func (s *Store) newTreeSink(n int64) (*store.TreeSink, error) {
	if s.opts.NoTrees || outboard.Size(n) <= 8 {
		return nil, nil
	}
	return store.NewTreeSink(s.treeDir(), n)
}

// OpenTree returns the BLAKE3 tree of h; see store.TreeOpener.
func (s *Store) OpenTree(ctx context.Context, h urn.Hash) (store.Blob, error) {
	tree, size, err := s.treeBytes(h)
	if err != nil {
		return nil, err
	}
	if tree != nil {
		return memBlob{bytes.NewReader(tree)}, nil
	}
	f, err := os.Open(filepath.Join(s.treeDir(), h.Hex()))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", outboard.URI(h), os.ErrNotExist)
	}
	want := outboard.Size(size)
	if fi, err := f.Stat(); err != nil || fi.Size() != want {
		f.Close()
		return nil, fmt.Errorf("%s: %w", outboard.URI(h), os.ErrNotExist)
	}
	return treeFile{f, want}, nil
}

// treeBytes returns the tree of h when it is in the index (or is the
// length alone), else nil and the object's size, its tree being a file.
func (s *Store) treeBytes(h urn.Hash) ([]byte, int64, error) {
	notFound := fmt.Errorf("%s: %w", outboard.URI(h), os.ErrNotExist)
	if h.Kind != urn.BLAKE3 || s.opts.NoTrees {
		return nil, 0, notFound
	}
	size := int64(-1)
	var inline []byte
	err := s.db.View(func(tx *bbolt.Tx) error {
		for _, o := range objectsFor(tx, bucketBLAKE3, h.Sum) {
			if o.tree {
				size = o.size
				inline = bytes.Clone(tx.Bucket(bucketTree).Get(h.Sum[:]))
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	want := outboard.Size(size)
	switch {
	case size < 0:
		return nil, 0, notFound
	case want == 8:
		return binary.LittleEndian.AppendUint64(nil, uint64(size)), size, nil
	case want <= store.MaxInlineTree:
		if int64(len(inline)) != want {
			s.Rescan()
			return nil, 0, notFound
		}
		return inline, size, nil
	}
	return nil, size, nil
}

type memBlob struct{ *bytes.Reader }

func (m memBlob) Close() error { return nil }

type treeFile struct {
	f    *os.File
	size int64
}

func (t treeFile) ReadAt(p []byte, off int64) (int, error) { return t.f.ReadAt(p, off) }
func (t treeFile) Size() int64                             { return t.size }
func (t treeFile) Close() error                            { return t.f.Close() }

// loadTree returns the checked tree of an object, for READs to check the
// bytes they fetch against, or nil when there is none (NoTrees, or an
// index without it).
func (s *Store) loadTree(o object) *outboard.Tree {
	if !o.tree || s.opts.NoTrees {
		return nil
	}
	return s.trees.get(o.blake3, func() *outboard.Tree {
		h := urn.New(urn.BLAKE3, o.blake3)
		b, err := s.OpenTree(s.ctx, h)
		if err != nil {
			return nil
		}
		defer b.Close()
		buf := make([]byte, b.Size())
		if _, err := b.ReadAt(buf, 0); err != nil && err != io.EOF {
			return nil
		}
		t, err := outboard.NewTree(buf, o.blake3, o.size)
		if err != nil {
			s.log.Warn("a tree in the index does not match its hash; READs of it go unchecked until it is rebuilt", "blake3", h.Hex(), "err", err)
			return nil
		}
		return t
	})
}

// treeCache keeps the trees of the objects being read, a few at a time.
type treeCache struct {
	mu sync.Mutex
	m  map[[32]byte]*outboard.Tree
}

const treesKept = 64

func (c *treeCache) get(b3 [32]byte, load func() *outboard.Tree) *outboard.Tree {
	c.mu.Lock()
	t, ok := c.m[b3]
	c.mu.Unlock()
	if ok {
		return t
	}
	t = load()
	if t == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[[32]byte]*outboard.Tree)
	}
	if len(c.m) >= treesKept {
		for k := range c.m { // drop any one
			delete(c.m, k)
			break
		}
	}
	c.m[b3] = t
	return t
}

// sweepTrees removes tree files no entry names, and temporary ones left by
// a crash. It runs inside Scan, so no tree is being written.
func (s *Store) sweepTrees() {
	des, err := os.ReadDir(s.treeDir())
	if err != nil {
		return
	}
	s.db.View(func(tx *bbolt.Tx) error {
		for _, de := range des {
			name := de.Name()
			var sum [32]byte
			b, err := hex.DecodeString(name)
			keep := err == nil && len(b) == 32 && !strings.HasPrefix(name, ".")
			if keep {
				copy(sum[:], b)
				keep = len(keysFor(tx, bucketBLAKE3, sum)) > 0
			}
			if !keep {
				os.Remove(filepath.Join(s.treeDir(), name))
			}
		}
		return nil
	})
}
