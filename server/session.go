package server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/wire"
)

// chunkSize is how much of a READ's payload is read from the file and
// written to the peer at a time: large enough for few syscalls, small enough
// to stay in cache between the two copies.
const chunkSize = 256 << 10

// headRoom precedes each chunk buffer, so that a READ's header, and the
// small answers queued before it when they fit, go out in the same write as
// its first bytes: for the small files of a tree, one system call (and one
// TLS record, one QUIC frame) per READ instead of two.
const headRoom = 4 << 10

// readAhead bounds the READs of a session that read their first chunk
// before they wait for the connection (see serveRead), and aheadBuffers
// those of the whole server: a chunk buffer each, 8 MiB in all at most.
const (
	readAhead    = 2
	aheadBuffers = 32
)

var chunkPool = sync.Pool{New: func() any { b := make([]byte, headRoom+chunkSize); return &b }}

// session is one RTP/1 session. Its reader goroutine decodes requests in
// order; OPENs that need the store are resolved by at most MaxOpening worker
// goroutines, and READs run on goroutines of their own (at most
// MaxInflight), so a slow store call holds up no request behind it.
type session struct {
	srv  *Server
	conn Conn
	br   *bufio.Reader

	// ctx is passed to every store call; cancel ends it when the peer hangs
	// up, a write fails, Shutdown gives up waiting, or the session ends.
	ctx    context.Context
	cancel context.CancelFunc

	omu         sync.Mutex               // guards the fields up to settled
	tokens      map[wire.Token]*resource // OPENs that succeeded or are under way
	pendingToks int                      // tokens of those under way
	seq         uint64                   // OPENs read so far
	failed      map[wire.Token]failure   // failed OPENs, so pipelined READs get their error
	order       []tokSeq                 // failed tokens by seq, oldest first (some stale)
	res         map[blobKey]*resource    // tokens naming the same resource share one
	queue       []*resource              // OPENs waiting for a worker
	workers     int                      // goroutines resolving queue
	settled     chan struct{}            // closed when an OPEN under way is answered

	busy     atomic.Bool // the reader has requests buffered and will flush after them
	inflight chan struct{}
	ahead    chan struct{}  // READs reading their first chunk before taking wmu
	work     sync.WaitGroup // READ goroutines and OPEN workers

	wmu  sync.Mutex // held by whoever writes to conn
	werr error      // first write error, under wmu; the session is dead after it
	dead atomic.Bool

	smu   sync.Mutex // guards small
	small []byte     // small responses not yet written

	stopOnce sync.Once
	stopped  chan struct{}
}

func (s *Server) serveSession(ctx context.Context, c Conn, remote net.Addr, transport string) {
	// Shutdown, not ctx, ends sessions: one that is shutting down still
	// finishes the store calls it has started.
	sctx, cancel := context.WithCancel(store.WithRemote(context.WithoutCancel(ctx), remote))
	defer cancel()
	ss := &session{
		srv:      s,
		conn:     c,
		br:       bufio.NewReaderSize(c, 16<<10),
		ctx:      sctx,
		cancel:   cancel,
		tokens:   make(map[wire.Token]*resource),
		failed:   make(map[wire.Token]failure),
		res:      make(map[blobKey]*resource),
		inflight: make(chan struct{}, s.cfg.MaxInflight),
		ahead:    make(chan struct{}, readAhead),
		stopped:  make(chan struct{}),
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		s.met.SessionRejected(RejectShutdown)
		c.Close()
		return
	}
	s.sessions[ss] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	s.met.SessionStarted(transport)
	defer func() {
		s.mu.Lock()
		delete(s.sessions, ss)
		s.mu.Unlock()
		s.met.SessionEnded(transport)
		s.wg.Done()
	}()

	err := ss.run()
	if s.inputEnded != nil {
		s.inputEnded(err)
	}
	if !ss.isStopped() && !errors.Is(err, io.EOF) {
		// The connection broke (a reset, a QUIC stream or connection
		// closed with an error) or the peer broke a rule: abandon the store
		// calls under way. The plain end of the requests is not a hang-up:
		// a client may half-close and read every answer (rule 1), so they
		// finish; if it is gone, the first failed write cancels the rest.
		// (A graceful Shutdown lets them finish too.)
		ss.cancel()
	}
	ss.work.Wait()
	ss.wmu.Lock()
	ss.flushLocked()
	clean := ss.werr == nil
	ss.wmu.Unlock()
	if clean && !errors.Is(err, wire.ErrURITooLong) {
		lingerClose(c)
	} else {
		c.Close()
	}
	ss.cancel()
	for _, r := range ss.res {
		if r.blob != nil {
			r.blob.Close()
		}
	}
	if err != nil && !errors.Is(err, io.EOF) {
		s.log.Debug("session ended", "remote", remote, "err", err)
	}
}

// lingerClose closes c without losing responses already written: closing a
// TCP socket that holds unread requests sends a reset, which makes the peer
// drop what it has not read yet. So it shuts the write side, discards input
// until the peer closes or a second passes, then closes.
func lingerClose(c Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
		c.SetReadDeadline(time.Now().Add(time.Second))
		io.Copy(io.Discard, io.LimitReader(c, 1<<20))
	}
	c.Close()
}

// stop makes the reader loop return at its next request boundary.
func (ss *session) stop() {
	ss.stopOnce.Do(func() {
		close(ss.stopped)
		ss.conn.SetReadDeadline(time.Now())
	})
}

func (ss *session) isStopped() bool {
	select {
	case <-ss.stopped:
		return true
	default:
		return false
	}
}

// run reads requests until the peer stops, breaks a rule or the server
// shuts down.
func (ss *session) run() error {
	cfg := &ss.srv.cfg
	for {
		if err := ss.awaitRequest(); err != nil {
			return err
		}
		// The first byte is here: the rest must follow promptly.
		ss.conn.SetReadDeadline(time.Now().Add(cfg.RequestTimeout))
		req, err := wire.ReadRequest(ss.br, wire.MaxURI)
		if err != nil {
			return err // including wire.ErrURITooLong: close without reading on
		}
		switch req.Type {
		case wire.Open:
			ss.open(req)
		case wire.Read:
			ss.read(req)
		}
		if ss.br.Buffered() == 0 {
			ss.idle()
		} else {
			ss.busy.Store(true)
		}
		if ss.writeFailed() {
			return io.ErrClosedPipe
		}
	}
}

// awaitRequest waits for a request's first byte. It counts idleness only
// while the session has no READ in flight: a client busy receiving a long
// pipeline owes no new request.
func (ss *session) awaitRequest() error {
	idle := ss.srv.cfg.IdleTimeout
	for {
		if ss.isStopped() {
			return ErrServerClosed
		}
		ss.conn.SetReadDeadline(time.Now().Add(idle))
		_, err := ss.br.Peek(1)
		if err == nil {
			return nil
		}
		if ss.isStopped() {
			return ErrServerClosed
		}
		if errors.Is(err, os.ErrDeadlineExceeded) && (len(ss.inflight) > 0 || ss.opening()) && !ss.writeFailed() {
			continue
		}
		return err
	}
}

// idle is called when the reader has no request buffered: it writes the
// small responses queued, and from now on the OPEN workers write theirs.
func (ss *session) idle() {
	ss.busy.Store(false)
	ss.flushSmall()
}

// read takes on a READ. One whose OPEN is still under way waits for its
// outcome on the READ's goroutine, holding an inflight slot, so the reader
// goes on to the requests behind it.
func (ss *session) read(req wire.Request) {
	met := ss.srv.met
	ss.omu.Lock()
	for !ss.readDecidableLocked(req.OpenToken) {
		if !ss.awaitSettledLocked() {
			break
		}
	}
	r, ok := ss.tokens[req.OpenToken]
	var e *wire.Error
	switch {
	case !ok:
		if f, ok := ss.failed[req.OpenToken]; ok {
			e = f.e
		} else {
			e = wire.ErrUnknownToken
		}
	case !r.isDone():
		r.waiters++
	}
	ss.omu.Unlock()
	if e != nil {
		met.ReadAnswered(false)
		ss.respondErr(req.Token, e)
		return
	}
	ready := r.isDone()
	if ready {
		if r.err != nil {
			met.ReadAnswered(false)
			ss.respondErr(req.Token, r.err)
			return
		}
		if ss.answerEmpty(req, r) {
			return
		}
	}
	start := time.Now()
	select {
	case ss.inflight <- struct{}{}:
	default:
		// MaxInflight are in flight: wait for one to end, reading no more
		// requests meanwhile (backpressure on the peer).
		if ss.srv.inflightFull != nil {
			ss.srv.inflightFull()
		}
		ss.idle()
		ss.inflight <- struct{}{}
	}
	if ready {
		met.ReadStarted()
	}
	ss.work.Add(1)
	go func() {
		defer ss.work.Done()
		defer func() { <-ss.inflight }()
		if !ready {
			<-r.done
			if r.err != nil {
				met.ReadAnswered(false)
				ss.respondErr(req.Token, r.err)
				ss.flushSmall()
				return
			}
			if ss.answerEmpty(req, r) {
				ss.flushSmall()
				return
			}
			met.ReadStarted()
		}
		n := min(req.Length, uint64(ss.srv.cfg.MaxRead), uint64(r.blob.Size())-req.Offset)
		sent := ss.serveRead(req.Token, r.blob, int64(req.Offset), int64(n))
		st := ReadStat{Tree: r.key.tree, Elapsed: time.Since(start), Failed: !sent}
		if sent {
			st.Bytes = int64(n)
		}
		met.ReadDone(st)
	}()
}

// readDecidableLocked reports whether a READ of the open token tok can be
// answered as it would be once every OPEN before it is: unless tok's OPEN
// failed and the OPENs under way, failing, could make the session forget it.
func (ss *session) readDecidableLocked(tok wire.Token) bool {
	if _, ok := ss.failed[tok]; !ok || ss.pendingToks == 0 {
		return true
	}
	return len(ss.failed)+ss.pendingToks <= ss.srv.cfg.MaxOpenTokens
}

// answerEmpty answers a READ of the opened r that has no payload to send,
// and reports whether it did.
func (ss *session) answerEmpty(req wire.Request, r *resource) bool {
	if req.Length != 0 && req.Offset < uint64(r.blob.Size()) {
		return false
	}
	ss.srv.met.ReadAnswered(true)
	ss.respond(req.Token, false, nil)
	return true
}
