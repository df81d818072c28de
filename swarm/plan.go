package swarm

import (
	"errors"
	"io"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

const (
	noPeer   = -1
	prevRun  = -2 // a block kept from an earlier run
	notFound = -1
)

// block is one fixed-size piece of the resource.
type block struct {
	mu    sync.Mutex   // held while bytes are written into the block
	done  bool         // set under mu and plan.mu
	by    int          // the peer whose bytes are in the file, once done
	owner int          // the peer fetching it as primary, or noPeer
	dups  int          // endgame copies in flight
	since time.Time    // when owner took it
	sess  *sessionMark // the owner's session
}

// sessionMark is what a session shows the plan: when it last received a
// byte (unix ns), its measured rate (math.Float64bits of bytes a second; 0
// until measured), the bytes it has received, and when its flow's round
// under way began (unix ns) with the bytes it had then.
type sessionMark struct {
	last       atomic.Int64
	rate       atomic.Uint64
	bytes      atomic.Int64
	roundAt    atomic.Int64
	roundBytes atomic.Int64
}

// newRound publishes the start of the session's flow's round under way:
// when it began and the bytes delivered then (flow.roundStart and
// flow.roundBytes, which only the session's goroutine reads).
func (m *sessionMark) newRound(at time.Time, bytes int64) {
	m.roundAt.Store(at.UnixNano())
	m.roundBytes.Store(bytes)
}

// rateAt is the session's measured rate, or the rate since its round under
// way began if that is lower and the round has lasted longer than long: a
// connection that slowed to a crawl (deep in loss recovery) ends no round,
// so its measured rate stays that of its good rounds for as long as it
// crawls.
func (m *sessionMark) rateAt(now time.Time, long time.Duration) float64 {
	r := math.Float64frombits(m.rate.Load())
	if at := m.roundAt.Load(); at != 0 {
		if since := now.Sub(time.Unix(0, at)); since > long {
			r = min(r, float64(m.bytes.Load()-m.roundBytes.Load())/since.Seconds())
		}
	}
	return r
}

// silentFor is how long the session has received nothing at now.
func (m *sessionMark) silentFor(now time.Time) time.Duration {
	return now.Sub(time.Unix(0, m.last.Load()))
}

// holder is a session asking for work: its mark, and how long a session of
// the same server must have received nothing before this one copies its
// blocks (0: never).
type holder struct {
	*sessionMark
	stuck time.Duration
}

// slowSibling: in the endgame a session copies a block from a session of
// the same server measured at under a quarter of its own rate.
const slowSibling = 4

// behind reports whether block b, held by another session of the same
// server than h, is worth a copy by h: its session has received nothing
// for h.stuck (waiting out a retransmission timeout), or is measured at
// under a quarter of h's rate (a TCP connection whose congestion control
// settled low, or one that has crawled for twice h.stuck since its last
// round: sessionMark.rateAt), or not measured yet while h is (one still in
// its start-up); in every case only once b has been held for h.stuck, so
// a block a healthy session took a moment ago is left to it. h.stuck is 0
// on a path under lanRTT: no copies there.
func (h holder) behind(b *block, now time.Time) bool {
	if b.sess == nil || b.sess == h.sessionMark || h.stuck <= 0 || now.Sub(b.since) <= h.stuck {
		return false
	}
	if b.sess.silentFor(now) > h.stuck {
		return true
	}
	mine := math.Float64frombits(h.rate.Load())
	return mine > 0 && b.sess.rateAt(now, 2*h.stuck)*slowSibling < mine
}

// plan hands out blocks and tracks which are done. Lock order: block.mu,
// then plan.mu.
type plan struct {
	size, bsize int64

	mu        sync.Mutex
	blocks    []block
	free      int // no block below this index is unowned and missing
	low       int // the first block not done: where the in-order hash waits
	hedge     time.Duration
	patient   bool // Config.PatientEndgame
	doneCount int
	doneBytes int64
	aborted   bool
	changed   chan struct{} // closed and replaced whenever a block finishes or is released
	cond      *sync.Cond    // the prefix hasher waits on it
	// writeMu makes the writes into the output one at a time.
	writeMu sync.Mutex
}

func newPlan(size, bsize int64, hedge time.Duration) *plan {
	n := int((size + bsize - 1) / bsize)
	p := &plan{size: size, bsize: bsize, blocks: make([]block, n), changed: make(chan struct{}), hedge: hedge}
	p.cond = sync.NewCond(&p.mu)
	for i := range p.blocks {
		p.blocks[i].by, p.blocks[i].owner = noPeer, noPeer
	}
	return p
}

// span returns block i's offset and length.
func (p *plan) span(i int) (int64, int64) {
	off := int64(i) * p.bsize
	return off, min(p.bsize, p.size-off)
}

// markKept marks block i done from an earlier run.
func (p *plan) markKept(i int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := &p.blocks[i]
	if !b.done {
		b.done, b.by = true, prevRun
		p.doneCount++
		_, n := p.span(i)
		p.doneBytes += n
		p.advanceLow()
	}
}

// hedgeSpan is how many blocks from the first missing one are watched for
// hedging.
const hedgeSpan = 32

// assign gives peer a block to fetch for a session whose last received
// byte is recorded in last. First, a copy of a block near the front of the
// file whose owner's session has received nothing for the hedge time: the
// in-order hash is waiting for that block, and its peer may have stalled.
// Then the lowest missing unowned block. When none is left, a copy of the
// block another peer has held longest (endgame). A copy from the same
// server only of a block whose session is far behind the asking one
// (holder.behind): RTP/1 has no way to take back a READ, so the server
// sends such a block twice over the same link, which pays only when the
// link would otherwise wait for that session. ok is false when there is
// nothing to do for peer now.
func (p *plan) assign(peer int, h holder) (i int, dup bool, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hedge > 0 {
		now := time.Now()
		for j := p.low; j < min(p.low+hedgeSpan, len(p.blocks)); j++ {
			b := &p.blocks[j]
			if !b.done && b.owner != noPeer && b.owner != peer && b.dups == 0 &&
				now.Sub(b.since) > p.hedge && b.sess != nil && b.sess.silentFor(now) > p.hedge {
				b.dups++
				return j, true, true
			}
		}
	}
	for ; p.free < len(p.blocks); p.free++ {
		b := &p.blocks[p.free]
		if !b.done && b.owner == noPeer {
			b.owner, b.since, b.sess = peer, time.Now(), h.sessionMark
			return p.free, false, true
		}
	}
	best := -1
	now := time.Now()
	for j := range p.blocks {
		b := &p.blocks[j]
		if b.done || b.owner == noPeer || b.dups > 0 || b.owner == peer && !h.behind(b, now) {
			continue
		}
		if p.patient && (b.sess == nil || b.sess.silentFor(now) <= p.hedge) {
			continue // its session is receiving: no copy races it
		}
		if best < 0 || b.since.Before(p.blocks[best].since) {
			best = j
		}
	}
	if best < 0 {
		return 0, false, false
	}
	p.blocks[best].dups++
	return best, true, true
}

// release gives back a block whose fetch ended without finishing it.
func (p *plan) release(i, peer int, dup bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := &p.blocks[i]
	if dup {
		b.dups--
	} else if b.owner == peer {
		b.owner = noPeer
		p.free = min(p.free, i)
	}
	p.notify()
}

// errLost: another copy of the block finished it first.
var errLost = errors.New("another copy of the block arrived first")

// errAborted: the download ended before the block was done.
var errAborted = errors.New("download aborted")

// write writes data, a primary READ's payload, into out at off, inside
// block i, unless an endgame copy has finished the block first (errLost).
func (p *plan) write(i int, out io.WriterAt, data []byte, off int64) (int, error) {
	b := &p.blocks[i]
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return 0, errLost
	}
	return p.writeAt(out, data, off)
}

// writeAt writes into the output, one write at a time. Linux serializes
// buffered writes to one file on its inode lock, and a writer waiting for
// it spins on the CPU while the holder copies: with three sessions writing
// on two cores, 13% of rtpget's samples (perf, 512 MB on loopback) were
// that spin, taken from the receiving and the checking. A waiter on this
// mutex sleeps instead.
func (p *plan) writeAt(out io.WriterAt, data []byte, off int64) (int, error) {
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	return out.WriteAt(data, off)
}

// finish marks block i done by peer, whose primary READs wrote it.
func (p *plan) finish(i, peer int) {
	b := &p.blocks[i]
	b.mu.Lock()
	defer b.mu.Unlock()
	p.finishLocked(i, peer, false)
}

// finishCopy writes data, the whole of block i from peer, into out and
// marks the block done, unless another copy finished it first: an endgame
// copy (dup), or a block held in memory until the tree came. If the write
// fails the block is released and the error returned.
func (p *plan) finishCopy(i, peer int, dup bool, out io.WriterAt, data []byte) error {
	b := &p.blocks[i]
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.done {
		off, _ := p.span(i)
		if _, err := p.writeAt(out, data, off); err != nil {
			p.release(i, peer, dup)
			return err
		}
	}
	p.finishLocked(i, peer, dup)
	return nil
}

// waitDone waits until block i is done, or returns errAborted once the
// download is aborted.
func (p *plan) waitDone(i int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for !p.blocks[i].done && !p.aborted {
		p.cond.Wait()
	}
	if p.aborted {
		return errAborted
	}
	return nil
}

// finishLocked marks block i done by peer; the caller holds b.mu.
func (p *plan) finishLocked(i, peer int, dup bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := &p.blocks[i]
	if dup {
		b.dups--
	}
	if b.owner == peer && !dup {
		b.owner = noPeer
	}
	if b.done {
		return
	}
	b.done, b.by = true, peer
	p.doneCount++
	_, n := p.span(i)
	p.doneBytes += n
	p.advanceLow()
	p.notify()
}

// advanceLow moves low past done blocks; the caller holds p.mu.
func (p *plan) advanceLow() {
	for p.low < len(p.blocks) && p.blocks[p.low].done {
		p.low++
	}
}

// notify wakes everyone waiting for a change; the caller holds p.mu.
func (p *plan) notify() {
	close(p.changed)
	p.changed = make(chan struct{})
	p.cond.Broadcast()
}

// nudge wakes the sessions, as a change does: a server's limit changed.
func (p *plan) nudge() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.notify()
}

// assignedAll says whether every block is done or being fetched: no
// session is short of work only because its path is slow.
func (p *plan) assignedAll() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for ; p.free < len(p.blocks); p.free++ {
		if b := &p.blocks[p.free]; !b.done && b.owner == noPeer {
			return false
		}
	}
	return true
}

// unassigned returns the bytes of the blocks neither done nor owned.
func (p *plan) unassigned() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var n int64
	for i := p.free; i < len(p.blocks); i++ {
		if b := &p.blocks[i]; !b.done && b.owner == noPeer {
			_, l := p.span(i)
			n += l
		}
	}
	return n
}

// changes returns a channel closed at the next change.
func (p *plan) changes() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.changed
}

func (p *plan) complete() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.doneCount == len(p.blocks)
}

func (p *plan) progress() (done int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.doneBytes
}

// abort wakes the prefix hasher for good.
func (p *plan) abort() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.aborted = true
	p.notify()
}

// doneBlocks returns a copy of the done flags, for the resume state.
func (p *plan) doneBlocks() []bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	d := make([]bool, len(p.blocks))
	for i := range p.blocks {
		d[i] = p.blocks[i].done
	}
	return d
}
