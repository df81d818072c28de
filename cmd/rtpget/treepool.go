package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtp-project/rtp/client"
	"github.com/rtp-project/rtp/outboard"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/urn"
	"github.com/rtp-project/rtp/wire"
)

// Small files of a tree are not fetched by a swarm each: a few sessions per
// server ("lanes"), shared by every file, take files from one queue and
// send each one's OPEN and READs at once, without waiting for any answer,
// so thousands of files cost a few round trips, not thousands. A file is
// received into memory and verified there before it is written.
const (
	// readSize is one READ: rtpd's default cap.
	readSize = 1 << 20
	// laneOpens is the most OPENs one session sends before it is replaced
	// by a new one: RTP/1 has no CLOSE, and rtpd holds at most 1024 open
	// tokens per session (--max-open-tokens). A server that refuses
	// earlier halves it for its later sessions.
	laneOpens = 1000
	// laneWindow bounds the bytes of READs in flight on one session, and
	// laneUnit is the least a file counts for: at most 256 files in
	// flight per session.
	laneWindow = 16 << 20
	laneUnit   = laneWindow / 256
	// A session's window is what carries laneRate at the round trip its
	// transport measured (TCP's handshake, QUIC's), between laneMin and
	// laneWindow; the whole window when the transport does not say. On a
	// short link the small window keeps what is in flight in the CPU's
	// caches from its arrival to its write: 9,703 files (757 MB) from
	// three rtpd on loopback took 3.8-4.1 s with 4 MiB against 5.2 s with
	// 16 MiB, and 4.7 CPU-s against 6.5.
	laneMin  = 4 << 20
	laneRate = 400e6 // bytes/s
	// laneBatch is the most files whose requests wait to go out together.
	laneBatch = 32
)

// content is one distinct file content a tree needs, and every path that
// wants it.
type content struct {
	size   int64
	blake3 [32]byte
	sha256 [32]byte
	paths  []treeFile
	part   string // its name in partsDir: the blake3 hex
}

func (c *content) hashes() []urn.Hash {
	return []urn.Hash{urn.New(urn.BLAKE3, c.blake3), urn.New(urn.SHA256, c.sha256)}
}

// item is a content in the lanes' queue.
type item struct {
	c     *content
	tried []bool // per server: failed there for good (not found, wrong bytes)
	tries int    // transient failures
	err   error  // the last failure
}

// laneServer is one server as the lanes see it.
type laneServer struct {
	dial    rtpurl.Dial
	bytes   atomic.Int64
	budget  atomic.Int64 // OPENs per session
	mu      sync.Mutex
	failing time.Time // first failure since the last success
	dropped bool
	why     string
}

// lanes fetches small contents over shared sessions.
type lanes struct {
	servers  []*laneServer
	dialFn   func(context.Context, rtpurl.Dial) (*client.Session, error)
	perSrv   int
	stall    time.Duration
	retryFor time.Duration
	sha      bool // verify sha256 too
	log      *slog.Logger
	// done takes verified bytes (called from several goroutines); an
	// error fails the content without blaming the server.
	done     func(*content, []byte) error
	failed   func(*content, error)
	verified atomic.Int64 // bytes verified

	mu    sync.Mutex
	queue []*item
	left  int           // items not yet done or failed
	wake  chan struct{} // closed on any change
}

func (l *lanes) changedLocked() {
	close(l.wake)
	l.wake = make(chan struct{})
}

// run fetches every content given and returns when each is done or failed.
func (l *lanes) run(ctx context.Context, cs []*content) {
	if len(cs) == 0 {
		return
	}
	l.wake = make(chan struct{})
	for _, c := range cs {
		l.queue = append(l.queue, &item{c: c, tried: make([]bool, len(l.servers))})
	}
	l.left = len(cs)
	var wg sync.WaitGroup
	for si, s := range l.servers {
		s.budget.Store(laneOpens)
		for range l.perSrv {
			wg.Go(func() { l.lane(ctx, si) })
		}
	}
	wg.Wait()
	// Interrupted, or no server left: what is still queued failed.
	l.mu.Lock()
	q := l.queue
	l.queue = nil
	l.mu.Unlock()
	for _, it := range q {
		err := it.err
		if ctx.Err() != nil {
			err = ctx.Err()
		} else if err == nil {
			err = errors.New("no server left")
		}
		l.failed(it.c, err)
	}
}

// lane keeps one session to server si busy while there is work for it,
// replacing it when it has used its OPENs or fails.
func (l *lanes) lane(ctx context.Context, si int) {
	srv := l.servers[si]
	backoff := 500 * time.Millisecond
	for {
		if !l.waitWork(ctx, si) {
			return
		}
		dctx, cancel := context.WithTimeout(ctx, l.stall)
		s, err := l.dialFn(dctx, srv.dial)
		cancel()
		if err == nil {
			err = l.session(ctx, si, s)
			s.Close()
		}
		if err == nil {
			backoff = 500 * time.Millisecond
			continue
		}
		if ctx.Err() != nil || l.fail(si, err) {
			return
		}
		l.log.Info("tree session failed; retrying", "server", srv.dial.String(), "in", backoff, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// fail counts a failure of server si; it reports whether the server is
// now dropped (failing for longer than retryFor, or at once when its
// certificate was refused: the dialer has told the user).
func (l *lanes) fail(si int, err error) bool {
	srv := l.servers[si]
	srv.mu.Lock()
	now := time.Now()
	if srv.failing.IsZero() {
		srv.failing = now
	}
	refused := client.IsCertificate(err)
	drop := !srv.dropped && (now.Sub(srv.failing) > l.retryFor || refused)
	if drop {
		srv.dropped, srv.why = true, err.Error()
	}
	srv.mu.Unlock()
	if drop {
		if !refused {
			l.log.Warn("dropping a server", "server", srv.dial.String(), "err", err)
		}
		l.sweep()
	}
	return srv.dropped
}

func (l *lanes) ok(si int) {
	srv := l.servers[si]
	srv.mu.Lock()
	srv.failing = time.Time{}
	srv.mu.Unlock()
}

func (l *lanes) isDropped(si int) bool {
	srv := l.servers[si]
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.dropped
}

// fetchable reports whether some server not dropped has not failed it.
func (l *lanes) fetchable(it *item) bool {
	for si := range l.servers {
		if !it.tried[si] && !l.isDropped(si) {
			return true
		}
	}
	return false
}

// sweep fails the queued items no server is left for.
func (l *lanes) sweep() {
	l.mu.Lock()
	var dead []*item
	keep := l.queue[:0]
	for _, it := range l.queue {
		if l.fetchable(it) {
			keep = append(keep, it)
		} else {
			dead = append(dead, it)
		}
	}
	l.queue = keep
	l.left -= len(dead)
	l.changedLocked()
	l.mu.Unlock()
	for _, it := range dead {
		l.failed(it.c, fmt.Errorf("no server left: %w", it.err))
	}
}

// waitWork waits until there is an item server si may take (true), or
// until nothing is left for it (false).
func (l *lanes) waitWork(ctx context.Context, si int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		if ctx.Err() != nil || l.left == 0 || l.isDropped(si) {
			return false
		}
		for _, it := range l.queue {
			if !it.tried[si] {
				return true
			}
		}
		w := l.wake
		l.mu.Unlock()
		select {
		case <-w:
		case <-ctx.Done():
		}
		l.mu.Lock()
	}
}

// take removes and returns the first item server si may fetch, or nil.
func (l *lanes) take(si int) *item {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, it := range l.queue {
		if !it.tried[si] {
			if i == 0 {
				l.queue = l.queue[1:]
			} else {
				l.queue = append(l.queue[:i], l.queue[i+1:]...)
			}
			return it
		}
	}
	return nil
}

// requeue puts it back after a failure at server si (for good there when
// permanent), or fails it when no server is left for it.
func (l *lanes) requeue(it *item, si int, permanent bool, err error) {
	it.err = err
	if permanent {
		it.tried[si] = true
	} else if it.tries++; it.tries >= 8 {
		it.tried[si] = true
	}
	l.mu.Lock()
	if !l.fetchable(it) {
		l.left--
		l.changedLocked()
		l.mu.Unlock()
		l.failed(it.c, err)
		return
	}
	l.queue = append(l.queue, it)
	l.changedLocked()
	l.mu.Unlock()
}

// requeueFront puts it back at the front of the queue, no try counted: it
// was waiting behind another item on a session that ended because of that
// one (no answer within --stall, a broken session), so it goes first on
// the next session, ahead of the item that stalled, which requeue put at
// the back.
func (l *lanes) requeueFront(it *item) {
	l.mu.Lock()
	l.queue = append([]*item{it}, l.queue...)
	l.changedLocked()
	l.mu.Unlock()
}

// finish marks it done (verified, or failed for a local reason).
func (l *lanes) finish() {
	l.mu.Lock()
	l.left--
	l.changedLocked()
	l.mu.Unlock()
}

// pending is one item whose requests are sent.
type pending struct {
	it    *item
	open  *client.Call
	reads []*client.Call
	buf   []byte
	units int
	sent  time.Time // its OPEN was sent
	reply time.Time // its OPEN was answered
}

// session sends items' requests on s as long as it has OPENs and there is
// work; a second goroutine takes the answers in order. It returns an error
// when the session failed (its unanswered items are queued again).
func (l *lanes) session(ctx context.Context, si int, s *client.Session) error {
	srv := l.servers[si]
	window := make(chan struct{}, laneWindow/laneUnit)
	// Slots held for good: what the link does not need.
	if rtt := s.RTT(); rtt > 0 {
		want := min(max(laneRate*rtt.Seconds(), laneMin), laneWindow)
		for range int((laneWindow - want) / laneUnit) {
			window <- struct{}{}
		}
	}
	sent := make(chan *pending, laneWindow/laneUnit)
	var serr error
	fin := make(chan struct{})
	go func() {
		defer close(fin)
		for p := range sent {
			if serr == nil {
				if serr = l.receive(ctx, si, s, p); serr != nil {
					// Stop the sender too.
					s.Close()
				}
			} else {
				// Behind the one that broke the session: not its fault.
				l.requeueFront(p.it)
			}
			for range p.units {
				<-window
			}
		}
	}()
	// Requests go out together, up to laneBatch files or until the
	// window is full, rather than in a write (and a TLS record) each.
	s.Cork()
	batched := 0
	budget := int(srv.budget.Load())
	for opened := 0; opened < budget; opened++ {
		it := l.take(si)
		if it == nil {
			break
		}
		units := int(min(max(it.c.size/laneUnit, 1), int64(cap(window))))
		if len(window)+units > cap(window) || batched == laneBatch {
			s.Uncork() // what waits goes out before this waits for answers
			s.Cork()
			batched = 0
		}
		if got := acquireWindow(ctx, s, window, units); got < units {
			for range got {
				<-window
			}
			l.requeueFront(it)
			break
		}
		sent <- l.send(s, it, units)
		batched++
	}
	s.Uncork()
	close(sent)
	<-fin
	return serr
}

// acquireWindow takes n slots of window, fewer if the session or ctx ends first;
// it returns how many it took.
func acquireWindow(ctx context.Context, s *client.Session, window chan struct{}, n int) int {
	for got := 0; got < n; got++ {
		select {
		case window <- struct{}{}:
		case <-s.Done():
			return got
		case <-ctx.Done():
			return got
		}
	}
	return n
}

// send pipelines an item's OPEN and READs.
func (l *lanes) send(s *client.Session, it *item, units int) *pending {
	c := it.c
	p := &pending{it: it, buf: getBuf(c.size), units: units, sent: time.Now()}
	p.open = s.StartOpen(urn.New(urn.BLAKE3, c.blake3).String())
	for off := int64(0); off < c.size; off += readSize {
		n := min(readSize, c.size-off)
		p.reads = append(p.reads, s.StartRead(p.open.Token, uint64(off), uint64(n), &bufWriter{p: p.buf[off : off+n]}))
	}
	return p
}

// receive waits for p's answers and verifies its bytes. A non-nil return
// means the session is broken (p is queued again).
func (l *lanes) receive(ctx context.Context, si int, s *client.Session, p *pending) error {
	srv := l.servers[si]
	wait := func(c *client.Call) error {
		t := time.NewTimer(l.stall)
		defer t.Stop()
		select {
		case <-c.Done:
			return c.Err
		case <-t.C:
			return fmt.Errorf("no answer within %v", l.stall)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	var werr *wire.Error
	failed := func(err error) error {
		switch {
		case errors.Is(err, wire.ErrTooManyOpenTokens):
			// This server allows fewer: use fewer from now on.
			srv.budget.Store(max(srv.budget.Load()/2, 16))
			l.requeue(p.it, si, false, err)
			return err
		case errors.As(err, &werr):
			l.requeue(p.it, si, client.IsPermanent(err), err)
			return nil
		}
		l.requeue(p.it, si, false, err)
		return err
	}
	if err := wait(p.open); err != nil {
		return failed(err)
	}
	p.reply = time.Now()
	for i, r := range p.reads {
		err := wait(r)
		srv.bytes.Add(r.N)
		if err != nil {
			return failed(err)
		}
		// rtpd sends all that was asked; a server with a smaller cap
		// sends less, and the rest is asked for now.
		off := int64(i) * readSize
		for got := r.N; got < int64(r.Length); {
			rest := p.buf[off+got : off+int64(r.Length)]
			rctx, cancel := context.WithTimeout(ctx, l.stall)
			n, err := s.ReadAt(rctx, p.open.Token, rest, uint64(off+got))
			cancel()
			srv.bytes.Add(int64(n))
			if err != nil {
				return failed(err)
			}
			if n == 0 {
				l.requeue(p.it, si, true, fmt.Errorf("%s: the file ends at %d bytes, not %d", srv.dial, off+got, p.it.c.size))
				return nil
			}
			got += int64(n)
		}
	}
	c := p.it.c
	if outboard.Sum(p.buf) != c.blake3 || l.sha && sha256.Sum256(p.buf) != c.sha256 {
		l.log.Warn("a server sent bytes that do not match their hash; fetching them elsewhere", "server", srv.dial.String(), "file", c.paths[0].Path)
		l.requeue(p.it, si, true, fmt.Errorf("%s sent bytes that do not match the hash", srv.dial))
		return nil
	}
	l.ok(si)
	l.verified.Add(c.size)
	if err := l.done(c, p.buf); err != nil {
		l.mu.Lock()
		l.left--
		l.changedLocked()
		l.mu.Unlock()
		l.failed(c, err)
		return nil
	}
	l.finish()
	return nil
}

// bufWriter fills p, and fails rather than write past it. The session
// reads into it directly (client.Filler).
type bufWriter struct {
	p []byte
	n int
}

func (w *bufWriter) Unfilled() []byte { return w.p[w.n:] }
func (w *bufWriter) Filled(n int)     { w.n += n }

func (w *bufWriter) Write(b []byte) (int, error) {
	if len(b) > len(w.p)-w.n {
		return 0, errors.New("more bytes than asked for")
	}
	w.n += copy(w.p[w.n:], b)
	return len(b), nil
}
