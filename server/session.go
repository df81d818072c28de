package server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtp-project/rtp/outboard"
	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/urn"
	"github.com/rtp-project/rtp/wire"
)

// chunkSize is how much of a READ's payload is read from the file and
// written to the peer at a time: large enough for few syscalls, small enough
// to stay in cache between the two copies.
const chunkSize = 256 << 10

var chunkPool = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

// session is one RTP/1 session. Only its reader goroutine touches tokens and
// blobs; READs run on their own goroutines and share only the write side.
type session struct {
	srv  *Server
	conn Conn
	br   *bufio.Reader

	tokens map[wire.Token]opened  // successful OPENs
	failed map[wire.Token]error   // failed OPENs, so pipelined READs get their error
	order  []wire.Token           // failed tokens, oldest first
	blobs  map[blobKey]store.Blob // tokens naming the same resource share a descriptor

	inflight chan struct{}
	reads    sync.WaitGroup

	wmu  sync.Mutex // held by whoever writes to conn
	werr error      // first write error, under wmu; the session is dead after it
	dead atomic.Bool

	smu   sync.Mutex // guards small
	small []byte     // small responses not yet written

	stopOnce sync.Once
	stopped  chan struct{}
}

func (s *Server) serveSession(ctx context.Context, c Conn, remote net.Addr, transport string) {
	ss := &session{
		srv:      s,
		conn:     c,
		br:       bufio.NewReaderSize(c, 16<<10),
		tokens:   make(map[wire.Token]opened),
		failed:   make(map[wire.Token]error),
		blobs:    make(map[blobKey]store.Blob),
		inflight: make(chan struct{}, s.cfg.MaxInflight),
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

	err := ss.run(ctx)
	ss.reads.Wait()
	ss.wmu.Lock()
	ss.flushLocked()
	clean := ss.werr == nil
	ss.wmu.Unlock()
	if clean && !errors.Is(err, wire.ErrURITooLong) {
		lingerClose(c)
	} else {
		c.Close()
	}
	for _, b := range ss.blobs {
		b.Close()
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
func (ss *session) run(ctx context.Context) error {
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
			ss.open(ctx, req)
		case wire.Read:
			ss.read(req)
		}
		if ss.br.Buffered() == 0 {
			ss.flushSmall()
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
		if errors.Is(err, os.ErrDeadlineExceeded) && len(ss.inflight) > 0 && !ss.writeFailed() {
			continue
		}
		return err
	}
}

func (ss *session) open(ctx context.Context, req wire.Request) {
	if _, ok := ss.tokens[req.Token]; ok {
		ss.srv.met.Opened(OpenTokenInUse)
		ss.respondErr(req.Token, wire.ErrTokenInUse)
		return
	}
	delete(ss.failed, req.Token)
	if len(ss.tokens) >= ss.srv.cfg.MaxOpenTokens {
		ss.fail(req.Token, wire.ErrTooManyOpenTokens)
		return
	}
	k, err := ss.parseURI(req.URI)
	switch {
	case errors.Is(err, urn.ErrUnsupported):
		ss.fail(req.Token, wire.ErrUnsupportedScheme)
		return
	case err != nil:
		ss.fail(req.Token, wire.ErrMalformedURN)
		return
	}
	b := ss.blobs[k]
	if b == nil {
		blob, err := ss.openBlob(ctx, k)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				ss.fail(req.Token, wire.ErrNotFound)
			} else {
				ss.srv.log.Warn("open failed", "uri", req.URI, "err", err)
				ss.fail(req.Token, &wire.Error{Kind: wire.KindError, Text: "cannot open"})
			}
			return
		}
		b = blob
		ss.blobs[k] = b
	}
	ss.tokens[req.Token] = opened{b, k.tree}
	ss.srv.met.Opened(OpenOK)
	ss.respond(req.Token, false, nil)
}

// opened is what a token names: a blob, or a blake3 hash's tree.
type opened struct {
	store.Blob
	tree bool
}

// blobKey names a resource: a blob by hash, or a blake3 hash's tree.
type blobKey struct {
	h    urn.Hash
	tree bool
}

// parseURI accepts the urns of package urn and, when the store keeps
// trees, the tree URIs of package outboard (an extension; other servers
// answer unsupported scheme).
func (ss *session) parseURI(uri string) (blobKey, error) {
	h, err := urn.Parse(uri)
	if !errors.Is(err, urn.ErrUnsupported) {
		return blobKey{h: h}, err
	}
	if _, ok := ss.srv.cfg.Store.(store.TreeOpener); ok {
		if h, terr := outboard.ParseURI(uri); !errors.Is(terr, urn.ErrUnsupported) {
			return blobKey{h: h, tree: true}, terr
		}
	}
	return blobKey{}, err
}

func (ss *session) openBlob(ctx context.Context, k blobKey) (store.Blob, error) {
	if k.tree {
		return ss.srv.cfg.Store.(store.TreeOpener).OpenTree(ctx, k.h)
	}
	return ss.srv.cfg.Store.Open(ctx, k.h)
}

// fail answers an OPEN with e and remembers it for READs pipelined behind
// it. The memory is bounded like the open tokens; past it, the oldest
// failure is forgotten and its READs get "unknown open token".
func (ss *session) fail(tok wire.Token, e *wire.Error) {
	if _, ok := ss.failed[tok]; !ok {
		for len(ss.failed) >= ss.srv.cfg.MaxOpenTokens && len(ss.order) > 0 {
			delete(ss.failed, ss.order[0])
			ss.order = ss.order[1:]
		}
		ss.order = append(ss.order, tok)
		if len(ss.order) > 2*ss.srv.cfg.MaxOpenTokens {
			// Drop tokens OPENed again since they failed.
			live := ss.order[:0]
			for _, t := range ss.order {
				if _, ok := ss.failed[t]; ok {
					live = append(live, t)
				}
			}
			ss.order = live
		}
	}
	ss.failed[tok] = e
	ss.srv.met.Opened(openResult(e))
	ss.respondErr(tok, e)
}

func (ss *session) read(req wire.Request) {
	met := ss.srv.met
	o, ok := ss.tokens[req.OpenToken]
	if !ok {
		met.ReadAnswered(false)
		if e, ok := ss.failed[req.OpenToken]; ok {
			ss.respondErr(req.Token, e)
		} else {
			ss.respondErr(req.Token, wire.ErrUnknownToken)
		}
		return
	}
	size := uint64(o.Size())
	if req.Length == 0 || req.Offset >= size {
		met.ReadAnswered(true)
		ss.respond(req.Token, false, nil)
		return
	}
	n := min(req.Length, uint64(ss.srv.cfg.MaxRead), size-req.Offset)
	start := time.Now()
	select {
	case ss.inflight <- struct{}{}:
	default:
		// MaxInflight are in flight: wait for one to end, reading no more
		// requests meanwhile (backpressure on the peer).
		if ss.srv.inflightFull != nil {
			ss.srv.inflightFull()
		}
		ss.inflight <- struct{}{}
	}
	met.ReadStarted()
	ss.reads.Add(1)
	go func() {
		defer ss.reads.Done()
		defer func() { <-ss.inflight }()
		sent := ss.serveRead(req.Token, o.Blob, int64(req.Offset), int64(n))
		st := ReadStat{Tree: o.tree, Elapsed: time.Since(start), Failed: !sent}
		if sent {
			st.Bytes = int64(n)
		}
		met.ReadDone(st)
	}()
}

// serveRead sends n bytes of b at off. The first chunk is read before the
// header is written, so a file found changed gets a clean ERROR; a change
// found later ends the session, because the header has promised bytes that
// can no longer be sent. The whole READ runs under the session's write lock,
// so READs queued behind it hold a goroutine but no buffer.
