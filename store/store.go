package store

import (
	"context"
	"io"

	"github.com/rtp-project/rtp/urn"
)

// Blob is an open, immutable resource. The caller closes it.
type Blob interface {
	io.ReaderAt
	Size() int64
	Close() error
}

// FileBlob is a Blob backed by a file, whose Check fails with ErrChanged
// once the file differs from what was hashed: a sender can call it before
// it commits to a response (ReadAt checks every read anyway). No sender
// hands the file to the kernel (sendfile): the kernel reads the bytes after
// any check could see them.
type FileBlob interface {
	Blob
	Check() error
}

// Opener opens a blob by hash. A hash it does not hold wraps fs.ErrNotExist.
type Opener interface {
	Open(ctx context.Context, h urn.Hash) (Blob, error)
}

// TreeOpener is a store that keeps the BLAKE3 tree (package outboard) of
// the blobs it holds by blake3 hash.
type TreeOpener interface {
	// OpenTree returns the tree of the blake3 hash h: outboard.Size(length)
	// bytes. A hash it keeps no tree for wraps fs.ErrNotExist. The caller
	// closes the blob.
	OpenTree(ctx context.Context, h urn.Hash) (Blob, error)
}

// Lister calls fn for every entry it serves, stopping at fn's first error.
type Lister interface {
	List(ctx context.Context, fn func(Entry) error) error
}

// Store is what the server needs.
type Store interface {
	Opener
	Lister
}

// Entry is one indexed file.
type Entry struct {
	Path   string // slash-separated, relative to the served folder
	Size   int64
	SHA256 [32]byte
	BLAKE3 [32]byte
	stat   fileStat
	tree   bool // its BLAKE3 tree was built
}

// Hashes returns the entry's urns, blake3 first.
func (e Entry) Hashes() []urn.Hash { return e.sums().Hashes() }

// URNs returns the entry's urns of the given kinds, in their order (see
// urn.Sums.URNs).
func (e Entry) URNs(kinds []urn.Kind) []urn.Hash { return e.sums().URNs(kinds) }

func (e Entry) sums() urn.Sums { return urn.Sums{SHA256: e.SHA256, BLAKE3: e.BLAKE3, N: e.Size} }

var (
	_ Store      = (*Disk)(nil)
	_ TreeOpener = (*Disk)(nil)
	_ FileBlob   = (*fileBlob)(nil)
)
