package edge

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/rtp-project/rtp/client"
	"github.com/rtp-project/rtp/outboard"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/urn"
	"github.com/rtp-project/rtp/wire"
)

// maxTree bounds a tree held in memory during a fill: that of a 64 GiB
// blob. A larger blob is filled without one, verified whole at the end.
const maxTree = 256 << 20

// treePiece is the READ size of a tree's fetch.
const treePiece = 1 << 20

// learn finds the blob's length and, for a blake3 urn, its tree: from a
// tree kept by an earlier run of this fill, else from the upstreams in
// order. The first upstream that opens the urn gives the length; the tree
// comes from it or, if it keeps none, from the next that does. A tree that
// does not check against the urn (outboard.ErrBadTree) disqualifies its
// upstream. Every upstream answering "not found" is fs.ErrNotExist; any
// other failure of them all is retryable (store.ErrUnavailable).
func (f *fill) learn(ctx context.Context) error {
	e := f.e
	if f.key.Kind == urn.BLAKE3 {
		if b, err := os.ReadFile(e.treePath(f.key.Sum)); err == nil {
			if t, err := outboard.NewTree(b, f.key.Sum, treeLength(b)); err == nil {
				f.size, f.tree, f.treeBytes = t.Len(), t, b
				return nil
			}
		}
	}
	var errs []error
	notFound := 0
	for i, u := range e.upstreams {
		n, tb, err := f.probe(ctx, u, -1)
		switch {
		case err == nil:
			f.size = n
			for _, v := range e.upstreams[i+1:] {
				if tb != nil || f.key.Kind != urn.BLAKE3 {
					break
				}
				if _, t, err := f.probe(ctx, v, n); err == nil {
					tb = t
				}
			}
			if tb != nil {
				f.treeBytes = tb
				f.tree, _ = outboard.NewTree(tb, f.key.Sum, n) // checked by probe
				e.met.fillBytes.Add(uint64(len(tb)))
			} else if f.key.Kind == urn.BLAKE3 {
				f.log.Warn("no upstream offers the BLAKE3 tree: the blob is readable only once filled whole")
			}
			return nil
		case isNotFound(err):
			notFound++
		case ctx.Err() != nil:
			return store.Unavailable(ctx.Err())
		default:
			errs = append(errs, fmt.Errorf("%s: %w", u, err))
		}
	}
	if notFound == len(e.upstreams) {
		return fmt.Errorf("%s: %w", f.key, errNoneHolds)
	}
	return store.Unavailable(fmt.Errorf("%s: %w", f.key, errors.Join(errs...)))
}

func isNotFound(err error) bool {
	var we *wire.Error
	return errors.As(err, &we) && we.Kind == wire.KindNotFound
}

// probe asks u for the blob: its length (unless known is not negative)
// and, for a blake3 urn, its tree, checked against the urn; tree is nil
// when u keeps none. For a blake3 urn the length is the one the tree starts
// with, asked for in the same round trip as the OPEN: an upstream edge
// that is filling the blob answers it at once, where the READs of
// client.ProbeLength would wait for its fill to reach their offsets. Every
// wait on u is bounded by the stall timeout.
func (f *fill) probe(ctx context.Context, u rtpurl.Dial, known int64) (n int64, tree []byte, err error) {
	e := f.e
	stall := e.cfg.Stall
	opts := client.Options{DialTimeout: stall}
	if e.cfg.Client != nil {
		opts = *e.cfg.Client
		if opts.DialTimeout <= 0 {
			opts.DialTimeout = stall
		}
	}
	dctx, cancel := context.WithTimeout(ctx, stall)
	s, err := client.Dial(dctx, u, &opts)
	cancel()
	if err != nil {
		return 0, nil, err
	}
	defer s.Close()
	octx, cancel := context.WithTimeout(ctx, stall)
	defer cancel()
	blob := s.StartOpen(f.key.String())
	var topen, thead *client.Call
	head := &sliceWriter{p: make([]byte, 8)}
	if f.key.Kind == urn.BLAKE3 {
		topen = s.StartOpen(outboard.URI(f.key))
		thead = s.StartRead(topen.Token, 0, 8, head)
	}
	if err := blob.Wait(octx); err != nil {
		return 0, nil, err
	}
	if topen != nil && topen.Wait(octx) == nil && thead.Wait(octx) == nil && head.n == 8 {
		tl := int64(binary.LittleEndian.Uint64(head.p))
		if known < 0 || known == tl {
			tree, err = f.fetchTree(ctx, s, topen.Token, tl, head.p)
			switch {
			case err == nil:
				return tl, tree, nil
			case errors.Is(err, outboard.ErrBadTree):
				f.log.Warn("upstream's BLAKE3 tree does not match the urn; not filling from it", "upstream", u.String())
				return 0, nil, err
			}
			f.log.Debug("no tree from upstream", "upstream", u.String(), "err", err)
		}
	}
	if known >= 0 {
		return known, nil, nil
	}
	n, err = s.ProbeLength(ctx, blob.Token, stall)
	return n, nil, err
}

// fetchTree reads the rest of the tree of an n-byte blob, open as tok on
// s, whose first 8 bytes are head, and checks it.
func (f *fill) fetchTree(ctx context.Context, s *client.Session, tok wire.Token, n int64, head []byte) ([]byte, error) {
	if n < 0 || outboard.Size(n) > maxTree {
		return nil, fmt.Errorf("tree of %d bytes: too large to hold", n)
	}
	stall := f.e.cfg.Stall
	buf := make([]byte, outboard.Size(n))
	off := copy(buf, head)
	for off < len(buf) {
		rctx, cancel := context.WithTimeout(ctx, stall)
		k, err := s.ReadAt(rctx, tok, buf[off:min(off+treePiece, len(buf))], uint64(off))
		cancel()
		if err != nil {
			return nil, err
		}
		if k == 0 {
			return nil, fmt.Errorf("%w: %d bytes, want %d", outboard.ErrBadTree, off, len(buf))
		}
		off += k
	}
	if _, err := outboard.NewTree(buf, f.key.Sum, n); err != nil {
		return nil, err
	}
	return buf, nil
}

// sliceWriter receives a READ's payload into p.
type sliceWriter struct {
	p []byte
	n int
}

func (w *sliceWriter) Write(b []byte) (int, error) {
	if len(b) > len(w.p)-w.n {
		return 0, io.ErrShortBuffer
	}
	w.n += copy(w.p[w.n:], b)
	return len(b), nil
}
