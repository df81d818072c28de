package swarm

import (
	"fmt"

	"github.com/rtp-project/rtp/outboard"
)

// Fetching before the tree. The tree comes over a connection of its own,
// and on a long round trip its slow start takes many of them (about 2 s
// for the 0.8 MB tree of 200 MiB at 300 ms); sessions that waited for it
// sat idle with cold congestion windows. So a fresh download lets its
// sessions fetch as soon as they are open, into memory, up to earlyCap:
// nothing unchecked reaches the file. When the tree comes (or no server
// offers one), the held blocks are checked against it and written, and a
// server whose block does not match is banned, its block fetched again.
// A resumed download waits for the tree, which decides which kept blocks
// to trust.

// earlyCap bounds the bytes of blocks fetched before the tree comes: a
// few round trips of TCP's start-up at any rate, and little memory.
const earlyCap = 16 << 20

// heldBlock is a whole block fetched before the tree came.
type heldBlock struct {
	p     *peer
	block int
	dup   bool
	data  []byte
}

// treeReady returns the tree, once the sessions may use it: ok is false
// while it is still being fetched.
func (d *Download) treeReady() (t *outboard.Tree, ok bool) {
	select {
	case <-d.ready:
		return d.tree, true
	default:
		return nil, false
	}
}

// earlyBudget takes n bytes of earlyCap, and reports whether they were
// left.
func (d *Download) earlyBudget(n int64) bool {
	if d.earlyBytes.Add(n) <= earlyCap {
		return true
	}
	d.earlyBytes.Add(-n)
	return false
}

// finishEarly holds a block fetched before the tree came, or, if the tree
// question was settled while it was in flight, checks and writes it now.
func (p *peer) finishEarly(f *fetch) error {
	d := p.d
	h := heldBlock{p: p, block: f.block, dup: f.dup, data: f.buf.b}
	d.earlyMu.Lock()
	if !d.earlyOver {
		d.held = append(d.held, h)
		d.earlyMu.Unlock()
		return nil
	}
	d.earlyMu.Unlock()
	return d.commitHeld(h)
}

// endEarly settles the blocks held so far, once d.tree is set (or known
// to be nil); later ones are settled as they finish.
func (d *Download) endEarly() {
	d.earlyMu.Lock()
	d.earlyOver = true
	held := d.held
	d.held = nil
	d.earlyMu.Unlock()
	for _, h := range held {
		d.commitHeld(h)
	}
}

// commitHeld checks a held block against the tree, if there is one, and
// writes it. A block that does not match bans its server (errBanned) and
// goes back to the pool.
func (d *Download) commitHeld(h heldBlock) error {
	off, n := d.plan.span(h.block)
	if int64(len(h.data)) != n {
		d.plan.release(h.block, h.p.idx, h.dup)
		return fmt.Errorf("block %d: %d bytes held, not %d", h.block, len(h.data), n)
	}
	if d.tree != nil {
		if err := d.tree.Check(off, h.data); err != nil {
			d.plan.release(h.block, h.p.idx, h.dup)
			h.p.caught(err)
			return errBanned
		}
		h.p.verified.Add(n)
	}
	if err := d.plan.finishCopy(h.block, h.p.idx, h.dup, d.out, h.data); err != nil {
		d.fail(err)
		return err
	}
	return nil
}
