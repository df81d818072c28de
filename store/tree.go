package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"

	"go.etcd.io/bbolt"

	"github.com/rtp-project/rtp/outboard"
	"github.com/rtp-project/rtp/urn"
)

// BLAKE3 trees (package outboard) are built in the index pass, by the
// goroutine that hashes blake3, and kept by blake3 sum:
//
//   - a resource of one 16 KiB group has a tree of 8 bytes, its length:
//     nothing is stored, it is made on OPEN;
//   - a tree of up to maxInlineTree bytes (resources up to 16 MiB) is kept
//     in the index's tree bucket, so small files cost no file of their own
//     (a file would take a 4 KiB disk block: 20% of a 20 KiB resource);
//   - a larger one is a file, INDEX.trees/<hex> beside the index file
//     (its own folder, so rtpds whose index files share a folder don't
//     sweep each other's trees), written to a temporary
//     file beside it, synced and renamed before the entry that names it is
//     committed. Files no entry names any more are removed after each pass
//     that changed something.
//
// A tree costs 64 bytes per 16 KiB group, 0.39% of the resource.
const maxInlineTree = 64 << 10

func (d *Disk) treeDir() string { return d.db.Path() + ".trees" }

// TreeSink is where one resource's BLAKE3 tree goes while it is hashed:
// in memory up to MaxInlineTree bytes (to be stored in an index), else a
// temporary file in a folder of trees, named by the blake3 sum once Keep
// has synced it. The disk store and s3store keep their trees this way.
type TreeSink struct {
	Enc  *outboard.Encoder // write the resource's bytes here
	size int64
	mem  memTree  // small trees
	tmp  *os.File // large trees
	dir  string
}

// MaxInlineTree is the largest tree a TreeSink keeps in memory (trees of
// resources up to 16 MiB).
const MaxInlineTree = maxInlineTree

type memTree []byte

func (m memTree) WriteAt(p []byte, off int64) (int, error) { return copy(m[off:], p), nil }

// NewTreeSink returns the sink of the tree of an n-byte resource, whose
// file, if the tree is too big for memory, goes in dir.
func NewTreeSink(dir string, n int64) (*TreeSink, error) {
	t := &TreeSink{size: outboard.Size(n), dir: dir}
	if t.size <= maxInlineTree {
		t.mem = make(memTree, t.size)
		t.Enc = outboard.NewEncoder(n, t.mem)
		return t, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return nil, err
	}
	t.tmp = f
	t.Enc = outboard.NewEncoder(n, f)
	return t, nil
}

// Keep makes the finished tree of the blake3 sum b3 durable. It returns the
// bytes to store in the index, or nil when there are none (a tree of one
// group is its length alone) or they are in a file.
func (t *TreeSink) Keep(b3 [32]byte) ([]byte, error) {
	if err := t.Enc.Err(); err != nil {
		return nil, err
	}
	if t.tmp == nil {
		if t.size == 8 {
			return nil, nil
		}
		return t.mem, nil
	}
	if err := t.tmp.Sync(); err != nil {
		return nil, err
	}
	if err := t.tmp.Close(); err != nil {
		return nil, err
	}
	name := t.tmp.Name()
	t.tmp = nil
	if err := os.Rename(name, filepath.Join(t.dir, hex.EncodeToString(b3[:]))); err != nil {
		os.Remove(name)
		return nil, err
	}
	return nil, nil
}

// Discard removes the temporary file of a tree that was not kept. A nil
// sink has none.
func (t *TreeSink) Discard() {
	if t != nil && t.tmp != nil {
		t.tmp.Close()
		os.Remove(t.tmp.Name())
	}
}

// OpenTree returns the BLAKE3 tree of h; see TreeOpener.
func (d *Disk) OpenTree(ctx context.Context, h urn.Hash) (Blob, error) {
	if h.Kind != urn.BLAKE3 || d.opts.NoTrees {
		return nil, notFound(outboard.URI(h))
	}
	size := int64(-1)
	var inline []byte
	err := d.db.View(func(tx *bbolt.Tx) error {
		for _, p := range pathsFor(tx, bucketBLAKE3, h.Sum) {
			e, err := decodeEntry(p, tx.Bucket(bucketFiles).Get([]byte(p)))
			if err == nil && e.tree && e.BLAKE3 == h.Sum {
				size = e.Size
				inline = bytes.Clone(tx.Bucket(bucketTree).Get(h.Sum[:]))
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	want := outboard.Size(size)
	switch {
	case size < 0:
		return nil, notFound(outboard.URI(h))
	case want == 8:
		inline = binary.LittleEndian.AppendUint64(nil, uint64(size))
		return memBlob{bytes.NewReader(inline)}, nil
	case want <= maxInlineTree:
		if int64(len(inline)) != want {
			d.Rescan()
			return nil, notFound(outboard.URI(h))
		}
		return memBlob{bytes.NewReader(inline)}, nil
	}
	f, err := os.Open(filepath.Join(d.treeDir(), h.Hex()))
	if err != nil {
		return nil, notFound(outboard.URI(h))
	}
	if fi, err := f.Stat(); err != nil || fi.Size() != want {
		f.Close()
		return nil, notFound(outboard.URI(h))
	}
	return treeFile{f, want}, nil
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

var _ io.ReaderAt = treeFile{}

// sweepTrees removes tree files that no index entry names, and temporary
// ones left by a crash. It runs inside Scan, so no tree is being written.
func (d *Disk) sweepTrees() {
	des, err := os.ReadDir(d.treeDir())
	if err != nil {
		return
	}
	d.db.View(func(tx *bbolt.Tx) error {
		for _, de := range des {
			name := de.Name()
			var sum [32]byte
			b, err := hex.DecodeString(name)
			keep := err == nil && len(b) == 32 && !strings.HasPrefix(name, ".")
			if keep {
				copy(sum[:], b)
				keep = len(pathsFor(tx, bucketBLAKE3, sum)) > 0
			}
			if !keep {
				os.Remove(filepath.Join(d.treeDir(), name))
			}
		}
		return nil
	})
}
