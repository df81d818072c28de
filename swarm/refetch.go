package swarm

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtp-project/rtp/client"
)

// refetch fetches each of blocks again, whole, from a live peer not in
// not(block) nor in failed, for the repair. Each peer gets one session that
// keeps Window READs in flight, all peers at once; got is called with each
// block's bytes on the calling goroutine, in the order they arrive. A peer
// whose session fails or stalls is added to failed and its blocks go to
// another peer, while there is one; blocks no peer is left for are skipped.
// It returns got's first error, or ctx's.
func (d *Download) refetch(ctx context.Context, live []*peer, failed map[int]bool, blocks []int,
	not func(i int) []int, got func(p *peer, i int, data []byte) error) error {
	for todo := blocks; len(todo) > 0; {
		usable := slices.DeleteFunc(slices.Clone(live), func(p *peer) bool { return failed[p.idx] })
		byPeer := make(map[*peer][]int)
		for _, i := range todo {
			if q := d.pickOther(usable, i, not(i)); q != nil {
				byPeer[q] = append(byPeer[q], i)
			}
		}
		if len(byPeer) == 0 {
			return nil
		}
		wctx, cancel := context.WithCancel(ctx)
		results := make(chan refetched)
		var wg sync.WaitGroup
		for q, bs := range byPeer {
			wg.Add(1)
			go func() { defer wg.Done(); d.fetchBlocks(wctx, q, bs, results) }()
		}
		go func() { wg.Wait(); close(results) }()
		todo = nil
		var gotErr error
		for r := range results {
			switch {
			case gotErr != nil:
				// Draining after got failed.
			case r.err != nil:
				if ctx.Err() == nil {
					d.log.Warn("repair: server failed; its blocks go to another", "server", r.p.dial, "blocks", len(r.rest), "err", r.err)
				}
				failed[r.p.idx] = true
				todo = append(todo, r.rest...)
			default:
				if err := got(r.p, r.block, r.data); err != nil {
					gotErr = err
					cancel()
				}
			}
		}
		cancel()
		if gotErr != nil {
			return gotErr
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		slices.Sort(todo)
	}
	return nil
}

// refetched is one block's bytes from p, or p's failure with the blocks it
// did not deliver.
type refetched struct {
	p     *peer
	block int
	data  []byte
	err   error
	rest  []int
}

// repairRead is one block being fetched for the repair, over one READ or
// more when the server sends less than asked.
type repairRead struct {
	block int
	off   int64 // the block's start
	n     int64 // its length
	buf   *dupBuffer
	call  *client.Call
}

// fetchBlocks fetches blocks from p over its repair session, Window READs in
// flight, and sends each to out. It ends when every block is sent, when ctx
// ends, or when the session fails or receives nothing for the stall timeout
// while READs are in flight; then it sends the error and the blocks not
// sent, and closes the session.
func (d *Download) fetchBlocks(ctx context.Context, p *peer, blocks []int, out chan<- refetched) {
	inflight := make(map[*repairRead]struct{})
	next := 0
	fail := func(err error) {
		var rest []int
		for r := range inflight {
			rest = append(rest, r.block)
		}
		rest = append(rest, blocks[next:]...)
		select {
		case out <- refetched{p: p, err: err, rest: rest}:
		case <-ctx.Done():
		}
	}
	s, err := d.sessionFor(ctx, p)
	if err != nil {
		fail(err)
		return
	}
	done := make(chan *repairRead, d.cfg.Window)
	var lastByte atomic.Int64
	lastByte.Store(time.Now().UnixNano())
	start := func(r *repairRead) {
		have := int64(len(r.buf.b))
		r.call = s.sess.StartRead(s.tok, uint64(r.off+have), uint64(r.n-have), &progressWriter{r.buf, &lastByte, &p.bytes, nil})
		inflight[r] = struct{}{}
		go func() { <-r.call.Done; done <- r }()
	}
	stall := time.NewTicker(max(d.cfg.Stall/4, 10*time.Millisecond))
	defer stall.Stop()
	for next < len(blocks) || len(inflight) > 0 {
		for len(inflight) < d.cfg.Window && next < len(blocks) {
			i := blocks[next]
			off, n := d.plan.span(i)
			start(&repairRead{block: i, off: off, n: n, buf: &dupBuffer{b: make([]byte, 0, n)}})
			next++
		}
		select {
		case r := <-done:
			c := r.call
			switch {
			case c.Err != nil:
				s.sess.Close()
				fail(fmt.Errorf("READ at %d: %w", r.off+int64(len(r.buf.b))-c.N, c.Err))
				return
			case c.N == 0:
				s.sess.Close()
				fail(fmt.Errorf("%w: empty READ at %d", errShort, r.off+int64(len(r.buf.b))))
				return
			}
			if int64(len(r.buf.b)) < r.n {
				start(r) // the rest of the block
				continue
			}
			delete(inflight, r)
			select {
			case out <- refetched{p: p, block: r.block, data: r.buf.b}:
			case <-ctx.Done():
				return
			}
		case <-stall.C:
			if len(inflight) > 0 && time.Since(time.Unix(0, lastByte.Load())) > d.cfg.Stall {
				s.sess.Close()
				fail(fmt.Errorf("%w: no bytes for %v", ErrStall, d.cfg.Stall))
				return
			}
		case <-ctx.Done():
			return
		}
	}
}
