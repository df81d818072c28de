package edge

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"sync"

	"github.com/rtp-project/rtp/store"
)

// cachedBlob is a whole blob of the cache, or a kept tree.
type cachedBlob struct {
	f       *os.File
	size    int64
	release func()
	once    sync.Once
}

func (b *cachedBlob) ReadAt(p []byte, off int64) (int, error) { return b.f.ReadAt(p, off) }
func (b *cachedBlob) Size() int64                             { return b.size }

func (b *cachedBlob) Close() error {
	err := errors.New("edge: blob closed twice")
	b.once.Do(func() {
		err = b.f.Close()
		b.release()
	})
	return err
}

// fillBlob is a blob being filled. A read waits until the fill has
// verified the bytes it asks for, or failed, or ctx (the OPEN's: the
// session's, for the RTP server) is done; ReadRange waits under its own
// ctx as well.
type fillBlob struct {
	f    *fill
	ctx  context.Context
	once sync.Once
}

var (
	_ store.Blob        = (*fillBlob)(nil)
	_ store.RangeReader = (*fillBlob)(nil)
)

func (b *fillBlob) Size() int64 { return b.f.size }

func (b *fillBlob) ReadAt(p []byte, off int64) (int, error) {
	if off >= b.f.size {
		return 0, io.EOF
	}
	end := min(off+int64(len(p)), b.f.size)
	if err := b.f.av.wait(b.ctx, off, end); err != nil {
		return 0, err
	}
	n, err := b.f.file.ReadAt(p[:end-off], off)
	if err == nil && end-off < int64(len(p)) {
		err = io.EOF
	}
	return n, err
}

// ReadRange implements store.RangeReader: it waits for the whole range
// before fn gets it, so the server takes no write turn while it waits.
func (b *fillBlob) ReadRange(ctx context.Context, off, n int64, fn func(io.Reader) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(b.ctx, cancel)
	defer stop()
	if err := b.f.av.wait(ctx, off, off+n); err != nil {
		return err
	}
	return fn(io.NewSectionReader(b.f.file, off, n))
}

func (b *fillBlob) Close() error {
	err := errors.New("edge: blob closed twice")
	b.once.Do(func() {
		err = nil
		b.f.release()
	})
	return err
}

// memBlob is a tree held in memory.
type memBlob struct{ *bytes.Reader }

func (memBlob) Close() error { return nil }
