package server

import (
	"errors"
	"io"
	"time"

	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/wire"
)

// The write side of a session. Whoever writes to the connection holds wmu,
// for a whole response. Small responses (OPEN answers, errors, empty READs)
// are queued under smu without waiting for wmu, so the reader goroutine
// never waits behind a long READ; the next writer writes them first, and a
// writer that leaves makes sure none are left behind.

var errChangedWire = &wire.Error{Kind: wire.KindNotFound, Text: "file changed since it was hashed"}

// serveRead sends n bytes of b at off. Before the header is written the
// first chunk is read and the file checked, so a file found changed gets a
// clean ERROR; a change found later ends the session, because the header has
// promised bytes that can no longer be sent. The whole READ runs under wmu,
// so READs queued behind it hold a goroutine but no buffer. It reports
// whether the whole payload was written.
//
// Every transport copies through a buffer, plain TCP too: sendfile(2) hands
// the socket the page cache's pages by reference, so a file rewritten in
// place after the check but before the peer has read the bytes would send
// the new bytes under the old hash (docs/design.md).
func (ss *session) serveRead(tok wire.Token, b store.Blob, off, n int64) bool {
	ss.wmu.Lock()
	defer ss.unlockWrite()
	if ss.werr != nil {
		return false
	}
	return ss.copyLocked(tok, b, off, n)
}

// copyLocked sends a READ's payload through a buffer, one chunk at a time;
// each chunk is checked (store.Blob's ReadAt) after it is read and before it
// is written. It reports whether the whole payload was written.
func (ss *session) copyLocked(tok wire.Token, b store.Blob, off, n int64) bool {
	bufp := chunkPool.Get().(*[]byte)
	defer chunkPool.Put(bufp)
	buf := *bufp
	c := min(n, chunkSize)
	if err := readFull(b, buf[:c], off); err != nil {
		ss.readFailedLocked(tok, err)
		return false
	}
	ss.writeHeaderLocked(tok, n)
	for ss.werr == nil {
		_, err := ss.conn.Write(buf[:c])
		if ss.setErr(err); err != nil {
			return false
		}
		off, n = off+c, n-c
		if n == 0 {
			return true
		}
		c = min(n, chunkSize)
		if err := readFull(b, buf[:c], off); err != nil {
			ss.srv.log.Warn("read failed mid-response; ending session", "err", err)
			ss.setErr(err)
			return false
		}
		ss.conn.SetWriteDeadline(time.Now().Add(ss.srv.cfg.WriteTimeout))
	}
	return false
}

// writeHeaderLocked writes the queued small responses and the header of an
// n-byte READ payload, in one write.
func (ss *session) writeHeaderLocked(tok wire.Token, n int64) {
	b := ss.takeSmall()
	b = wire.AppendResponseHeader(b, wire.ResponseHeader{Token: tok, Len: uint64(n)})
	ss.conn.SetWriteDeadline(time.Now().Add(ss.srv.cfg.WriteTimeout))
	_, err := ss.conn.Write(b)
	ss.setErr(err)
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
	ss.respond(tok, true, []byte(e.Error()))
}

func (ss *session) respondErr(tok wire.Token, e error) {
	ss.respond(tok, true, []byte(e.Error()))
}

// respond queues a small response; run flushes when no request waits.
func (ss *session) respond(tok wire.Token, isErr bool, payload []byte) {
	ss.smu.Lock()
	defer ss.smu.Unlock()
	ss.small = wire.AppendResponseHeader(ss.small, wire.ResponseHeader{Token: tok, IsError: isErr, Len: uint64(len(payload))})
	ss.small = append(ss.small, payload...)
	if len(ss.small) > 1<<20 {
		// A peer that sends requests but reads nothing: stop.
		ss.dead.Store(true)
		ss.conn.Close()
	}
}

func (ss *session) takeSmall() []byte {
	ss.smu.Lock()
	defer ss.smu.Unlock()
	b := ss.small
	ss.small = nil
	return b
}

func (ss *session) hasSmall() bool {
	ss.smu.Lock()
	defer ss.smu.Unlock()
	return len(ss.small) > 0
}

// flushSmall writes the queued small responses unless a writer is busy, in
// which case that writer does it as it leaves.
func (ss *session) flushSmall() {
	for ss.hasSmall() && ss.wmu.TryLock() {
		ss.flushLocked()
		ss.wmu.Unlock()
	}
}

// unlockWrite ends a turn at writing: it writes what small responses are
// queued, releases wmu, and writes any queued meanwhile.
func (ss *session) unlockWrite() {
	ss.flushLocked()
	ss.wmu.Unlock()
	ss.flushSmall()
}

func (ss *session) flushLocked() {
	b := ss.takeSmall()
	if ss.werr != nil || len(b) == 0 {
		return
	}
	ss.conn.SetWriteDeadline(time.Now().Add(ss.srv.cfg.WriteTimeout))
	_, err := ss.conn.Write(b)
	ss.setErr(err)
}

// setErr records the first write error, under wmu, and ends the session.
func (ss *session) setErr(err error) {
	if err == nil || ss.werr != nil {
		return
	}
	ss.werr = err
	ss.dead.Store(true)
	ss.conn.Close()
}

func (ss *session) writeFailed() bool { return ss.dead.Load() }
