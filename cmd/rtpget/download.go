package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"lukechampine.com/blake3"

	"github.com/rtp-project/rtp/client"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/urn"
)

const (
	readSize = 1 << 20 // bytes asked for per READ
	window   = 16      // READs in flight
)

// download fetches one URL's bytes in order, from one server at a time,
// moving to the next server where the last one stopped. Bytes are hashed as
// they are written; the result counts only if every known hash matches.
type download struct {
	url   *rtpurl.URL
	opts  *client.Options
	log   *slog.Logger
	quiet bool
}

// ErrMismatch means the bytes the servers gave do not match the URL.
var ErrMismatch = errors.New("downloaded bytes do not match the URL's hash")

func (d *download) toFile(ctx context.Context, name string) error {
	part := name + ".part"
	f, err := os.OpenFile(part, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	n, err := d.fetch(ctx, w)
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if errors.Is(err, ErrMismatch) {
		os.Remove(part)
	}
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(part, name); err != nil {
		return err
	}
	if dir, err := os.Open(filepath.Dir(name)); err == nil {
		dir.Sync()
		dir.Close()
	}
	if !d.quiet {
		fmt.Fprintf(os.Stderr, "%s: %d bytes, verified %s\n", name, n, d.url.Hashes[0])
	}
	return nil
}

// toStdout streams the bytes in order; a mismatch is only known at the end,
// and is reported with exit status 1.
func (d *download) toStdout(ctx context.Context) error {
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	if _, err := d.fetch(ctx, w); err != nil {
		w.Flush()
		return err
	}
	return w.Flush()
}

// fetch writes the whole resource to w and verifies it.
func (d *download) fetch(ctx context.Context, w io.Writer) (int64, error) {
	hashers := map[urn.Kind]hash.Hash{urn.SHA256: sha256.New(), urn.BLAKE3: blake3.New(32, nil)}
	mw := io.MultiWriter(w, hashers[urn.SHA256], hashers[urn.BLAKE3])
	var off int64
	var errs []error
	done := false
	for _, srv := range d.url.Servers {
		var err error
		off, done, err = d.fetchFrom(ctx, srv, off, mw)
		if done {
			break
		}
		if ctx.Err() != nil {
			return off, ctx.Err()
		}
		d.log.Warn("server failed; trying the next", "server", srv, "offset", off, "err", err)
		errs = append(errs, fmt.Errorf("%s: %w", srv, err))
	}
	if !done {
		return off, fmt.Errorf("no server could give the bytes from offset %d: %w", off, errors.Join(errs...))
	}
	if d.url.Length >= 0 && off != d.url.Length {
		return off, fmt.Errorf("%w: got %d bytes, the URL says %d", ErrMismatch, off, d.url.Length)
	}
	for _, h := range d.url.Hashes {
		var got [32]byte
		hashers[h.Kind].Sum(got[:0])
		if got != h.Sum {
			return off, fmt.Errorf("%w: %s, got %s", ErrMismatch, h, urn.New(h.Kind, got))
		}
	}
	return off, nil
}

type pendingRead struct {
	call *client.Call
	buf  *sliceBuf
}

type sliceBuf struct{ b []byte }

func (s *sliceBuf) Write(p []byte) (int, error) { s.b = append(s.b, p...); return len(p), nil }

// fetchFrom reads from srv starting at off, writing in order to w, until the
// end of the resource (done) or an error. It returns the offset reached.
func (d *download) fetchFrom(ctx context.Context, srv rtpurl.Dial, off int64, w io.Writer) (int64, bool, error) {
	s, err := client.Dial(ctx, srv, d.opts)
	if err != nil {
		return off, false, err
	}
	defer s.Close()
	open := s.StartOpen(d.url.Hashes[0].String())
	size := d.url.Length // -1: unknown until a READ comes back empty
	next := off
	var queue []pendingRead
	issue := func(at, n int64) pendingRead {
		b := &sliceBuf{b: make([]byte, 0, n)}
		return pendingRead{s.StartRead(open.Token, uint64(at), uint64(n), b), b}
	}
	fill := func() {
		for len(queue) < window && (size < 0 || next < size) {
			n := int64(readSize)
			if size >= 0 {
				n = min(n, size-next)
			}
			queue = append(queue, issue(next, n))
			next += n
		}
	}
	fill()
	if err := open.Wait(ctx); err != nil {
		return off, false, err
	}
	for len(queue) > 0 {
		head := queue[0]
		queue = queue[1:]
		if err := stallWait(ctx, head.call, 30*time.Second); err != nil {
			return off, false, err
		}
		got := int64(len(head.buf.b))
		if got == 0 {
			if size >= 0 && off < size {
				return off, false, fmt.Errorf("server ended the resource at %d, the URL says %d", off, size)
			}
			return off, true, nil // past the end: done when the length was unknown
		}
		if _, err := w.Write(head.buf.b); err != nil {
			return off, false, err
		}
		off += got
		if want := int64(head.call.Length); got < want {
			// The server capped this READ: ask for the rest before anything else.
			queue = append([]pendingRead{issue(off, want-got)}, queue...)
		}
		fill()
	}
	return off, size >= 0 && off == size, nil
}

// stallWait waits for c, failing if it does not finish within stall.
func stallWait(ctx context.Context, c *client.Call, stall time.Duration) error {
	t := time.NewTimer(stall)
	defer t.Stop()
	select {
	case <-c.Done:
		return c.Err
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return fmt.Errorf("no answer for %v", stall)
	}
}
