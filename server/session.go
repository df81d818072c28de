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
	"time"

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
	tcp  *net.TCPConn // conn, when it is plain TCP and sendfile works here
	br   *bufio.Reader

	tokens map[wire.Token]*opened  // successful OPENs
	failed map[wire.Token]error    // failed OPENs, so pipelined READs get their error
	order  []wire.Token            // failed tokens, oldest first
	blobs  map[urn.Hash]store.Blob // tokens naming the same hash share a descriptor

	inflight chan struct{}
	reads    sync.WaitGroup

	wmu  sync.Mutex
	bw   *bufio.Writer // small responses; flushed before any payload
	werr error         // first write error; the session is dead after it

	stopOnce sync.Once
	stopped  chan struct{}
}

type opened struct {
	blob store.Blob
}

func (s *Server) serveSession(ctx context.Context, c Conn, remote net.Addr) {
	ss := &session{
		srv:      s,
		conn:     c,
		br:       bufio.NewReaderSize(c, 16<<10),
		bw:       bufio.NewWriterSize(c, 16<<10),
		tokens:   make(map[wire.Token]*opened),
		failed:   make(map[wire.Token]error),
		blobs:    make(map[urn.Hash]store.Blob),
		inflight: make(chan struct{}, s.cfg.MaxInflight),
		stopped:  make(chan struct{}),
	}
	if tc, ok := c.(*net.TCPConn); ok && canSendFile {
		ss.tcp = tc
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		c.Close()
		return
	}
	s.sessions[ss] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.sessions, ss)
		s.mu.Unlock()
		s.wg.Done()
	}()

	err := ss.run(ctx)
	ss.reads.Wait()
	ss.wmu.Lock()
	if ss.werr == nil {
		ss.conn.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
		ss.bw.Flush()
	}
	ss.wmu.Unlock()
	c.Close()
	for _, b := range ss.blobs {
		b.Close()
	}
	if err != nil && !errors.Is(err, io.EOF) {
		s.log.Debug("session ended", "remote", remote, "err", err)
	}
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
		ss.respondErr(req.Token, wire.ErrTokenInUse)
		return
	}
	delete(ss.failed, req.Token)
	if len(ss.tokens) >= ss.srv.cfg.MaxOpenTokens {
		ss.fail(req.Token, wire.ErrTooManyOpenTokens)
		return
	}
	h, err := urn.Parse(req.URI)
	switch {
	case errors.Is(err, urn.ErrUnsupported):
		ss.fail(req.Token, wire.ErrUnsupportedScheme)
		return
	case err != nil:
		ss.fail(req.Token, wire.ErrMalformedURN)
		return
	}
	b := ss.blobs[h]
	if b == nil {
		blob, err := ss.srv.cfg.Store.Open(ctx, h)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				ss.fail(req.Token, wire.ErrNotFound)
			} else {
				ss.srv.log.Warn("open failed", "urn", h, "err", err)
				ss.fail(req.Token, &wire.Error{Kind: wire.KindError, Text: "cannot open"})
			}
			return
		}
		b = blob
		ss.blobs[h] = b
	}
	ss.tokens[req.Token] = &opened{blob: b}
	ss.respond(req.Token, false, nil)
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
	ss.respondErr(tok, e)
}

func (ss *session) read(req wire.Request) {
	o, ok := ss.tokens[req.OpenToken]
	if !ok {
		if e, ok := ss.failed[req.OpenToken]; ok {
			ss.respondErr(req.Token, e)
		} else {
			ss.respondErr(req.Token, wire.ErrUnknownToken)
		}
		return
	}
	size := uint64(o.blob.Size())
	if req.Length == 0 || req.Offset >= size {
		ss.respond(req.Token, false, nil)
		return
	}
	n := min(req.Length, uint64(ss.srv.cfg.MaxRead), size-req.Offset)
	ss.inflight <- struct{}{} // blocks past MaxInflight: backpressure on the peer
	ss.reads.Add(1)
	go func() {
		defer ss.reads.Done()
		defer func() { <-ss.inflight }()
		ss.serveRead(req.Token, o.blob, int64(req.Offset), int64(n))
	}()
}

var errChangedWire = &wire.Error{Kind: wire.KindNotFound, Text: "file changed since it was hashed"}

// serveRead sends n bytes of b at off. The first chunk is read before the
// header is written, so a file found changed gets a clean ERROR; a change
// found later ends the session, because the header has promised bytes that
// can no longer be sent. The whole READ runs under the session's write lock,
// so READs queued behind it hold a goroutine but no buffer.
func (ss *session) serveRead(tok wire.Token, b store.Blob, off, n int64) {
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	if ss.werr != nil {
		return
	}
	fb, ok := b.(store.FileBlob)
	if ss.tcp != nil && ok && n >= 2 {
		if err := fb.Check(); err != nil {
			ss.readFailedLocked(tok, err)
			return
		}
		if ss.writeHeaderLocked(tok, n); ss.werr == nil {
			ss.werr = sendFile(ss.tcp, fb, off, n)
		}
	} else {
		ss.copyLocked(tok, b, off, n)
	}
	if ss.werr != nil {
		ss.conn.Close()
	}
}

// copyLocked sends a READ's payload through a buffer, one chunk at a time:
// for TLS and QUIC, which encrypt in user space anyway.
func (ss *session) copyLocked(tok wire.Token, b store.Blob, off, n int64) {
	bufp := chunkPool.Get().(*[]byte)
	defer chunkPool.Put(bufp)
	buf := *bufp
	c := min(n, chunkSize)
	if err := readFull(b, buf[:c], off); err != nil {
		ss.readFailedLocked(tok, err)
		return
	}
	ss.writeHeaderLocked(tok, n)
	for ss.werr == nil {
		_, ss.werr = ss.conn.Write(buf[:c])
		off, n = off+c, n-c
		if n == 0 || ss.werr != nil {
			return
		}
		c = min(n, chunkSize)
		if err := readFull(b, buf[:c], off); err != nil {
			ss.srv.log.Warn("read failed mid-response; ending session", "err", err)
			ss.werr = err
			return
		}
		ss.conn.SetWriteDeadline(time.Now().Add(ss.srv.cfg.WriteTimeout))
	}
}

// writeHeaderLocked writes whatever small responses are buffered and the
// header of an n-byte READ payload.
func (ss *session) writeHeaderLocked(tok wire.Token, n int64) {
	var b [wire.ResponseHeaderLen]byte
	hdr := wire.AppendResponseHeader(b[:0], wire.ResponseHeader{Token: tok, Len: uint64(n)})
	ss.conn.SetWriteDeadline(time.Now().Add(ss.srv.cfg.WriteTimeout))
	if ss.bw.Buffered() > 0 {
		ss.bw.Write(hdr)
		ss.werr = ss.bw.Flush()
	} else {
		_, ss.werr = ss.conn.Write(hdr)
	}
}

func readFull(b store.Blob, p []byte, off int64) error {
	n, err := b.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// readFailedLocked answers a READ whose first bytes could not be read.
func (ss *session) readFailedLocked(tok wire.Token, err error) {
	e := errChangedWire
	if !errors.Is(err, store.ErrChanged) && !errors.Is(err, io.ErrUnexpectedEOF) {
		ss.srv.log.Warn("read failed", "err", err)
		e = &wire.Error{Kind: wire.KindError, Text: "read failed"}
	}
	ss.respondLocked(tok, true, []byte(e.Error()))
	ss.flushLocked()
}

// respond queues a small response; run flushes it when no request waits.
func (ss *session) respond(tok wire.Token, isErr bool, payload []byte) {
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	ss.respondLocked(tok, isErr, payload)
}

func (ss *session) respondLocked(tok wire.Token, isErr bool, payload []byte) {
	if ss.werr != nil {
		return
	}
	var hdr [wire.ResponseHeaderLen]byte
	h := wire.AppendResponseHeader(hdr[:0], wire.ResponseHeader{Token: tok, IsError: isErr, Len: uint64(len(payload))})
	if ss.bw.Available() < len(h)+len(payload) {
		// The write will reach the peer now.
		ss.conn.SetWriteDeadline(time.Now().Add(ss.srv.cfg.WriteTimeout))
	}
	ss.bw.Write(h)
	if _, ss.werr = ss.bw.Write(payload); ss.werr != nil {
		ss.conn.Close()
	}
}

func (ss *session) respondErr(tok wire.Token, e error) {
	ss.respond(tok, true, []byte(e.Error()))
}

func (ss *session) flushSmall() {
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	ss.flushLocked()
}

func (ss *session) flushLocked() {
	if ss.werr != nil || ss.bw.Buffered() == 0 {
		return
	}
	ss.conn.SetWriteDeadline(time.Now().Add(ss.srv.cfg.WriteTimeout))
	if ss.werr = ss.bw.Flush(); ss.werr != nil {
		ss.conn.Close()
	}
}

func (ss *session) writeFailed() bool {
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	return ss.werr != nil
}
