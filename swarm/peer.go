package swarm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtp-project/rtp/client"
	"github.com/rtp-project/rtp/outboard"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/wire"
)

// PeerState is what a server is doing, as shown to users.
type PeerState uint8

// Peer states.
const (
	StateConnecting PeerState = iota
	StateActive
	StateIdle
	StateRetrying // ServerResult.RetryIn says when
	StateDropped
	StateBanned
	StateDone
)

var peerStateNames = [...]string{
	StateConnecting: "connecting",
	StateActive:     "downloading",
	StateIdle:       "idle",
	StateRetrying:   "retrying",
	StateDropped:    "dropped",
	StateBanned:     "banned",
	StateDone:       "done",
}

func (s PeerState) String() string {
	if int(s) < len(peerStateNames) {
		return peerStateNames[s]
	}
	return fmt.Sprintf("PeerState(%d)", s)
}

// MarshalText makes a state its name in JSON.
func (s PeerState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a state's name, for a --json summary read back.
func (s *PeerState) UnmarshalText(b []byte) error {
	for i, n := range peerStateNames {
		if n == string(b) {
			*s = PeerState(i)
			return nil
		}
	}
	return fmt.Errorf("unknown server state %q", b)
}

// peer is one server and its sessions.
type peer struct {
	idx  int
	dial rtpurl.Dial
	d    *Download

	bytes    atomic.Int64  // payload bytes received from it
	dupBytes atomic.Int64  // of which for endgame copies
	verified atomic.Int64  // bytes of it that matched the BLAKE3 tree
	banned   chan struct{} // closed when a group it sent fails the tree
	banOnce  sync.Once
	// progressed is when (unix ns) it last answered a READ with bytes, or
	// when the download started.
	progressed atomic.Int64

	mu    sync.Mutex
	state PeerState
	// retryIn is the delay before the next session, while state is
	// StateRetrying.
	retryIn time.Duration
	fails   int // failed sessions since its last progress, all sessions
	// failingSince is when the first of those failed: the retry budget
	// runs from it.
	failingSince time.Time
	retries      int // sessions retried, in all
	gone         bool
	why          string

	// Sessions: want is how many it should have, live how many run, of
	// which retiring are ending because want went down.
	want, live, retiring int
	slots                []bool           // session slots in use
	order                []int            // live slots in the order they started; the last is retired first
	flows                map[int]flowStat // the last snapshot of each slot's flow
	slowPath             PathState        // PathSlow or PathProbing when set by steer, else PathSteady
	measured             float64          // its rate over the last period, bytes/s

	// limit is how many READs its sessions may have in flight in all;
	// zero means no limit of its own. inflight is how many they have.
	limit, inflight atomic.Int64
	ctl             pathCtl // the run loop's alone
}

// flowStat is a snapshot of one session's flow.
type flowStat struct {
	window  int
	rate    float64
	minRTT  time.Duration
	startup bool
}

// minRTT is the shortest round trip any of its sessions measured, zero if
// none did.
func (p *peer) minRTT() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	var m time.Duration
	for _, f := range p.flows {
		if f.minRTT > 0 && (m == 0 || f.minRTT < m) {
			m = f.minRTT
		}
	}
	return m
}

// pathLocked says what its path is doing; the caller holds p.mu.
func (p *peer) pathLocked() PathState {
	if p.slowPath != PathSteady {
		return p.slowPath
	}
	for _, f := range p.flows {
		if f.startup {
			return PathStartup
		}
	}
	if len(p.flows) == 0 {
		return PathStartup
	}
	return PathSteady
}

// spawn starts one more session, unless none of its sessions runs any
// longer (the server is gone or the download over). Run's WaitGroup counts
// it: while one of its sessions runs, the count is not zero.
func (p *peer) spawn(ctx context.Context) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gone || p.live == 0 {
		return false
	}
	p.startLocked(ctx)
	return true
}

// startLocked starts a session in a free slot; the caller holds p.mu.
func (p *peer) startLocked(ctx context.Context) {
	slot := 0
	for slot < len(p.slots) && p.slots[slot] {
		slot++
	}
	if slot == len(p.slots) {
		p.slots = append(p.slots, false)
	}
	p.slots[slot] = true
	p.order = append(p.order, slot)
	p.want++
	p.live++
	p.d.sessions.Add(1)
	go func() {
		defer p.d.sessions.Done()
		p.run(ctx, slot)
	}()
}

// retire says whether the session in slot should end because the server
// has more sessions than it wants; it then counts as retiring.
func (p *peer) retire(slot int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	// The newest session goes: the one added for a trial, whose
	// connection is the coldest. Retiring an older one left a server
	// with only a connection still in TCP's start-up.
	if n := len(p.order); p.live-p.retiring > p.want && n > 0 && p.order[n-1] == slot {
		p.order = p.order[:n-1]
		p.retiring++
		return true
	}
	return false
}

// ended is called once when the run of the session in slot returns.
func (p *peer) ended(slot int, retired bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.live--
	p.slots[slot] = false
	p.order = slices.DeleteFunc(p.order, func(s int) bool { return s == slot })
	if retired {
		p.retiring--
		delete(p.flows, slot)
	}
}

// mayStart says whether a session of p with n READs in flight may start
// another: within the server's limit, and beyond the floor only while the
// download is under its cap.
func (p *peer) mayStart(n int) bool {
	if l := p.limit.Load(); l > 0 && p.inflight.Load() >= l {
		return false
	}
	return n < p.d.cfg.Window || p.d.inflight.Load() < int64(p.d.capReads)
}

// snapshot records a session's flow for the server's figures.
func (p *peer) snapshot(slot int, f *flow) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.flows == nil {
		p.flows = make(map[int]flowStat)
	}
	p.flows[slot] = flowStat{window: f.window, rate: f.rate, minRTT: f.minRTT, startup: f.startup}
}

func (p *peer) setState(s PeerState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.gone {
		p.state, p.retryIn = s, 0
	}
}

// retrying sets the state to StateRetrying with the delay before the next
// session.
func (p *peer) retrying(in time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.gone {
		p.state, p.retryIn = StateRetrying, in
	}
}

// drop removes the peer for the rest of the run.
func (p *peer) drop(state PeerState, why string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gone && p.state == StateBanned {
		return
	}
	p.gone, p.state, p.retryIn, p.why = true, state, 0, why
}

// caught bans the peer for bytes that do not match the tree: its sessions
// end at once and their blocks go back to the pool. It may run on a
// session's receive goroutine.
func (p *peer) caught(err error) {
	p.ban(fmt.Sprintf("sent bytes that do not match the BLAKE3 tree (%v)", err), func() {
		p.d.log.Warn("banning server: its bytes do not match the BLAKE3 tree", "server", p.dial, "err", err)
	})
}

// ban drops the peer for good and ends its sessions at once; logf runs
// the first time only.
func (p *peer) ban(why string, logf func()) {
	p.drop(StateBanned, why)
	p.banOnce.Do(func() {
		logf()
		close(p.banned)
	})
	p.d.wake()
}

func (p *peer) isGone() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gone
}

// run keeps sessions to the server going until the plan is complete, the
// server is dropped, or ctx ends. A session that fails is started again
// after a backoff of its own (so the server's other sessions do not speed
// it up), until the server has been failing for RetryFor with no READ
// bringing bytes in between.
func (p *peer) run(ctx context.Context, slot int) {
	cfg := &p.d.cfg
	inRow := 0       // this session's failures since the server's last progress
	retired := false // set by the session once it is retiring
	defer func() { p.ended(slot, retired) }()
	for {
		if p.isGone() || ctx.Err() != nil {
			return
		}
		began := time.Now().UnixNano()
		err := p.session(ctx, slot, &retired)
		if err == nil {
			p.setState(StateDone)
			return
		}
		if retired {
			return
		}
		if ctx.Err() != nil || p.isGone() {
			return
		}
		if client.IsPermanent(err) || errors.Is(err, errShort) {
			p.drop(StateDropped, err.Error())
			p.d.log.Warn("dropping server", "server", p.dial, "err", err)
			p.d.wake()
			return
		}
		last := p.progressed.Load()
		if last >= began {
			inRow = 0
		}
		inRow++
		p.mu.Lock()
		p.fails++
		p.retries++
		if p.fails == 1 {
			p.failingSince = time.Now()
		}
		fails, failing := p.fails, time.Since(p.failingSince)
		p.mu.Unlock()
		if failing >= cfg.RetryFor || (cfg.Retries > 0 && fails > cfg.Retries) {
			why := fmt.Sprintf("failing with no progress for %v (%d failures), last: %v", failing.Round(time.Millisecond), fails, err)
			if failing < cfg.RetryFor {
				why = fmt.Sprintf("%d failures, last: %v", fails, err)
			}
			p.drop(StateDropped, why)
			p.d.log.Warn("dropping server", "server", p.dial, "failures", fails, "failing_for", failing.Round(time.Millisecond), "err", err)
			p.d.wake()
			return
		}
		// The last try lands when the budget ends, not after it.
		delay := min(cfg.Backoff<<min(inRow-1, 16), 10*time.Second, cfg.RetryFor-failing)
		p.retrying(delay.Round(time.Millisecond))
		p.d.log.Info("server failed; retrying", "server", p.dial, "in", delay, "err", err)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		case <-p.d.finished:
			t.Stop()
			return
		}
	}
}

// fetch is one READ in flight, for a whole block or the rest of one.
type fetch struct {
	block int
	dup   bool
	early bool  // fetched before the tree came: held in buf, checked once it comes
	off   int64 // where this READ starts
	want  int64 // bytes asked for
	call  *client.Call
	seq   uint64     // the flow's number for it
	sent  time.Time  // when it was sent
	first int64      // when its first byte came (unix ns), 0 before; set before call.Done closes
	buf   *dupBuffer // dup or early: bytes so far of the whole block
	w     *blockWriter
	v     *checked // with a tree: checks the bytes before w or buf get them
}

// session runs one session until the plan is complete (nil) or it fails,
// or until it is retired (errRetired) with nothing in flight.
func (p *peer) session(ctx context.Context, slot int, retiring *bool) error {
	d := p.d
	p.setState(StateConnecting)
	s, open, err := d.dialOpen(ctx, p)
	if err != nil {
		return err
	}
	tok := open.Token
	openSent := time.Now()
	// reopening: the OPEN failed, and the READs sent behind it are coming
	// back with its error; once they are all back, reopen.
	reopening := false
	inflight := make(map[*fetch]struct{})
	took := func(n int64) {
		p.inflight.Add(n)
		d.inflight.Add(n)
	}
	defer func() {
		s.Close() // waits for the receive loop: no write into a block after this
		for f := range inflight {
			d.plan.release(f.block, p.idx, f.dup)
			took(-1)
		}
	}()
	select {
	case <-d.ready:
	case <-d.early:
	case <-s.Done():
		return s.Err()
	case <-ctx.Done():
		return ctx.Err()
	}
	if p.isGone() {
		return errBanned // its tree was bad
	}
	p.setState(StateActive)
	fl := newFlow(d.cfg.Window, d.capReads, d.cfg.BlockSize, time.Now())
	p.snapshot(slot, fl)
	done := make(chan *fetch, fl.ceil)
	var mark sessionMark
	mark.last.Store(time.Now().UnixNano())
	mark.newRound(fl.roundStart, fl.roundBytes)
	start := func(f *fetch) {
		pw := &flowWriter{progressWriter{w: f.w, last: &mark.last, count: &p.bytes}, &mark.bytes, &f.first}
		if f.dup {
			pw.w, pw.dup = f.buf, &p.dupBytes
		} else if f.early {
			pw.w = f.buf
		}
		if f.v != nil {
			pw.w = f.v
		}
		f.seq, f.sent, f.first = fl.sent(), time.Now(), 0
		f.call = s.StartRead(tok, uint64(f.off), uint64(f.want), pw)
		inflight[f] = struct{}{}
		took(1)
		go func() { <-f.call.Done; done <- f }()
	}
	stall := time.NewTicker(max(d.cfg.Stall/4, 10*time.Millisecond))
	defer stall.Stop()
	for {
		if !*retiring && p.retire(slot) {
			*retiring = true
		}
		if reopening && len(inflight) == 0 {
			if tok, err = d.reopen(ctx, s, open.Err); err != nil {
				return err
			}
			reopening, open = false, nil
		}
		tree, ready := d.treeReady()
		for !*retiring && !reopening && len(inflight) < fl.window {
			if !p.mayStart(len(inflight)) {
				fl.short()
				break
			}
			if !ready && !d.earlyBudget(d.cfg.BlockSize) {
				break
			}
			i, dup, ok := d.plan.assign(p.idx, holder{&mark, stuckAfter(fl.minRTT)})
			if !ok {
				if !ready {
					d.earlyBytes.Add(-d.cfg.BlockSize)
				}
				fl.short()
				break
			}
			off, n := d.plan.span(i)
			f := &fetch{block: i, dup: dup, early: !ready, off: off, want: n}
			var sink io.Writer
			if dup || f.early {
				f.buf = &dupBuffer{b: make([]byte, 0, n)}
				sink = f.buf
			} else {
				f.w = &blockWriter{d: d, block: i, off: off}
				sink = f.w
			}
			if tree != nil {
				v, err := outboard.NewVerifier(tree, off, off+n, sink)
				if err != nil {
					d.plan.release(i, p.idx, dup)
					return fmt.Errorf("block %d: %w", i, err)
				}
				f.v = &checked{v: v, p: p}
			}
			start(f)
		}
		if len(inflight) == 0 {
			if *retiring {
				return errRetired
			}
			if d.plan.complete() {
				p.setState(StateDone)
				return nil
			}
			p.setState(StateIdle)
			mark.last.Store(time.Now().UnixNano())
		} else {
			p.setState(StateActive)
		}
		// An idle session looks again now and then for a session of
		// its server that has stopped receiving (holder.behind).
		var recheck <-chan time.Time
		if stuck := stuckAfter(fl.minRTT); len(inflight) == 0 && stuck > 0 && !*retiring {
			recheck = time.After(stuck / 2)
		}
		changed := d.plan.changes()
		var readyCh <-chan struct{}
		if !ready {
			readyCh = d.ready
		}
		var openDone <-chan struct{}
		if open != nil && !reopening {
			openDone = open.Done
		}
		select {
		case <-readyCh:
		case <-openDone:
			if open.Err != nil {
				reopening = true
			} else {
				open = nil
			}
		case f := <-done:
			delete(inflight, f)
			took(-1)
			if open != nil && f.call.Err != nil && !errors.Is(f.call.Err, errLost) {
				// A READ behind an OPEN not yet answered, or failed:
				// the error may be the OPEN's.
				if err := p.awaitOpen(ctx, s, open, openSent); err != nil {
					// f is out of inflight: give its block back here,
					// or no session of this server takes it again.
					d.plan.release(f.block, p.idx, f.dup)
					return err
				}
				if open.Err != nil {
					reopening = true
					d.plan.release(f.block, p.idx, f.dup)
					break
				}
			}
			now := time.Now()
			var first time.Time
			if f.first != 0 {
				first = time.Unix(0, f.first)
			}
			if fl.done(f.seq, f.sent, first, mark.bytes.Load(), now) {
				p.snapshot(slot, fl)
				mark.rate.Store(math.Float64bits(fl.rate))
				mark.newRound(fl.roundStart, fl.roundBytes)
			}
			if err := p.finish(f, start); err != nil {
				return err
			}
		case <-stall.C:
			// The OPEN first: a server that never answered it sent no
			// bytes either, and the OPEN is what it failed to answer.
			if open != nil && !reopening && time.Since(openSent) > d.cfg.Stall {
				return d.openStalled()
			}
			if len(inflight) > 0 && mark.silentFor(time.Now()) > d.cfg.Stall {
				return fmt.Errorf("%w: no bytes for %v", ErrStall, d.cfg.Stall)
			}
		case <-changed:
		case <-recheck:
		case <-s.Done():
			return s.Err()
		case <-p.banned:
			return errBanned
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// awaitOpen waits for the answer to the session's OPEN, within the stall
// timeout from when it was sent.
func (p *peer) awaitOpen(ctx context.Context, s *client.Session, open *client.Call, sent time.Time) error {
	select {
	case <-open.Done: // answered (or failed with the session): its error says which
		return nil
	default:
	}
	t := time.NewTimer(time.Until(sent.Add(p.d.cfg.Stall)))
	defer t.Stop()
	select {
	case <-open.Done:
		return nil
	case <-t.C:
		return p.d.openStalled()
	case <-s.Done():
		return s.Err()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// openStalled is the error of a session whose OPEN, with READs behind
// it, had no answer within the stall timeout.
func (d *Download) openStalled() error {
	return fmt.Errorf("%w: OPEN: no answer within %v", ErrStall, d.cfg.Stall)
}

var (
	errBanned  = errors.New("banned")
	errRetired = errors.New("session retired")
)

// finish handles a finished READ: it completes the block, or asks for the
// rest of it when the server sent less than asked.
func (p *peer) finish(f *fetch, start func(*fetch)) error {
	d := p.d
	c := f.call
	if c.Err != nil && !errors.Is(c.Err, errLost) {
		d.plan.release(f.block, p.idx, f.dup)
		var we *wire.Error
		if errors.As(c.Err, &we) {
			return fmt.Errorf("READ at %d: %w", f.off, c.Err)
		}
		return c.Err
	}
	if errors.Is(c.Err, errLost) {
		// Another peer's copy of this block won.
		d.plan.release(f.block, p.idx, f.dup)
		return nil
	}
	if c.N == 0 {
		d.plan.release(f.block, p.idx, f.dup)
		return fmt.Errorf("%w: empty READ at %d", errShort, f.off)
	}
	p.progressed.Store(time.Now().UnixNano())
	p.mu.Lock()
	p.fails = 0
	p.mu.Unlock()
	if c.N < f.want {
		// The rest of the block, into the same writer (and verifier, which
		// may hold the start of a group).
		next := *f
		next.off, next.want = f.off+c.N, f.want-c.N
		start(&next)
		return nil
	}
	if f.v != nil && !f.v.v.Done() {
		d.plan.release(f.block, p.idx, f.dup)
		return fmt.Errorf("block %d: %d bytes not checked", f.block, f.v.v.Remaining())
	}
	if f.early {
		return p.finishEarly(f)
	}
	if f.dup {
		return d.commitDup(f.block, p.idx, f.buf.b)
	}
	d.plan.finish(f.block, p.idx)
	return nil
}

// commitDup writes an endgame copy into the file unless the block is done.
func (d *Download) commitDup(i, peer int, data []byte) error {
	if err := d.plan.finishCopy(i, peer, true, d.out, data); err != nil {
		d.fail(err)
		return err
	}
	return nil
}

// blockWriter writes a primary READ's payload straight into the file, unless
// an endgame copy has finished the block first.
type blockWriter struct {
	d     *Download
	block int
	off   int64
}

func (w *blockWriter) Write(p []byte) (int, error) {
	n, err := w.d.plan.write(w.block, w.d.out, p, w.off)
	w.off += int64(n)
	if err != nil && !errors.Is(err, errLost) {
		w.d.fail(err)
	}
	return n, err
}

type dupBuffer struct{ b []byte }

func (d *dupBuffer) Write(p []byte) (int, error) { d.b = append(d.b, p...); return len(p), nil }

// flowWriter is a session's progressWriter that also counts the session's
// bytes and notes a READ's first byte, for its flow.
type flowWriter struct {
	progressWriter
	session *atomic.Int64
	first   *int64 // set to the first byte's time (unix ns) if zero
}

func (fw *flowWriter) Write(p []byte) (int, error) {
	if *fw.first == 0 {
		*fw.first = time.Now().UnixNano()
	}
	fw.session.Add(int64(len(p)))
	return fw.progressWriter.Write(p)
}

// progressWriter notes when bytes last arrived and counts them, all of
// them, even those a lost race discards: they crossed the wire.
type progressWriter struct {
	w     io.Writer
	last  *atomic.Int64
	count *atomic.Int64
	dup   *atomic.Int64 // also counts here, if set
}

func (pw *progressWriter) Write(p []byte) (int, error) {
	pw.last.Store(time.Now().UnixNano())
	pw.count.Add(int64(len(p)))
	if pw.dup != nil {
		pw.dup.Add(int64(len(p)))
	}
	return pw.w.Write(p)
}

// stuckAfter is how long a session must have received nothing before an
// idle session of the same server copies the blocks it holds: two round
// trips, and never under 200 ms (Linux's least retransmission timeout).
// A session that is receiving never goes that long without a byte; one
// waiting out a retransmission timeout does. 0 means no copies from the
// same server, and no looking again for them: until the round trip is
// measured, and on a path shorter than lanRTT, where a connection
// recovers from loss at once and a session's tail lasts milliseconds, so
// a copy is only bytes sent twice (on loopback, under the race detector,
// 4 MiB of a 12 MiB file were copied from sessions not yet measured).
func stuckAfter(rtt time.Duration) time.Duration {
	if rtt < lanRTT {
		return 0
	}
	return max(200*time.Millisecond, 2*rtt)
}
