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

// serveRead sends n bytes of b at off. Before the header is written the
// first chunk is read and the file checked, so a file found changed gets a
// clean ERROR; a change found later ends the session, because the header has
// promised bytes that can no longer be sent. It reports whether the whole
// payload was written.
//
// Up to readAhead READs of a session (and aheadBuffers of the server) read
// their first chunk before they take wmu: a READ no bigger than a chunk
// (every small file of a tree) then holds the connection only to write, and
// one whose store call hangs (a failing disk, a stalled network mount)
// holds up only itself. Further READs take their buffer and read under
// wmu, so a session holds at most readAhead + 1 chunk buffers however many
// of its READs wait, and peers that pipeline READs without reading the
// answers pin no more than aheadBuffers more in all.
//
// Every transport copies through a buffer, plain TCP too: sendfile(2) hands
// the socket the page cache's pages by reference, so a file rewritten in
// place after the check but before the peer has read the bytes would send
// the new bytes under the old hash (docs/design.md).
func (ss *session) serveRead(tok wire.Token, b store.Blob, off, n int64) bool {
	if rr, ok := b.(store.RangeReader); ok {
		return ss.serveRange(tok, rr, off, n)
	}
	fill := func(p []byte) error {
		err := readFull(b, p, off)
		off += int64(len(p))
		return err
	}
	var bufp *[]byte
	if ss.takeAhead() {
		defer ss.giveAhead() // with the buffer, at the end
		bufp = chunkPool.Get().(*[]byte)
		defer chunkPool.Put(bufp)
		if err := fill((*bufp)[headRoom : headRoom+min(n, chunkSize)]); err != nil {
			ss.readFailed(tok, err)
			ss.flushSmall()
			return false
		}
	}
	ss.wmu.Lock()
	defer ss.unlockWrite()
	if ss.werr != nil {
		return false
	}
	filled := bufp != nil
	if !filled {
		bufp = chunkPool.Get().(*[]byte)
		defer chunkPool.Put(bufp)
	}
	return ss.copyLocked(tok, n, *bufp, filled, fill)
}

// takeAhead reports whether a READ may read its first chunk before wmu;
// if so, giveAhead must follow.
func (ss *session) takeAhead() bool {
	select {
	case ss.ahead <- struct{}{}:
	default:
		return false
	}
	select {
	case ss.srv.ahead <- struct{}{}:
		return true
	default:
		<-ss.ahead
		return false
	}
}

func (ss *session) giveAhead() {
	<-ss.srv.ahead
	<-ss.ahead
}

// serveRange sends n bytes of rr at off with one ReadRange: one request to
// the store per READ, however many chunks it is written in. The request is
// made before the write lock is taken, so the READs of a session wait for
// their store's answers at once, not one after the other; the buffer is
// taken under the lock, as in serveRead.
func (ss *session) serveRange(tok wire.Token, rr store.RangeReader, off, n int64) bool {
	called, sent := false, false
	err := rr.ReadRange(ss.ctx, off, n, func(rd io.Reader) error {
		called = true
		ss.wmu.Lock()
		defer ss.unlockWrite()
		if ss.werr != nil {
			return ss.werr
		}
		bufp := chunkPool.Get().(*[]byte)
		defer chunkPool.Put(bufp)
		sent = ss.copyLocked(tok, n, *bufp, false, func(p []byte) error {
			_, err := io.ReadFull(rd, p)
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return err
		})
		if !sent {
			return errNotSent
		}
		return nil
	})
	switch {
	case !called:
		ss.readFailed(tok, err)
		ss.flushSmall()
	case sent && err != nil:
		// The store failed after every byte was read, so it may not
		// vouch for them: end the session rather than let them stand.
		ss.srv.log.Warn("ranged read failed after its bytes were sent; ending session", "err", err)
		ss.wmu.Lock()
		ss.setErr(err)
		ss.wmu.Unlock()
		return false
	}
	return sent
}

var errNotSent = errors.New("server: READ not sent")

// copyLocked sends a READ's n-byte payload through whole, a chunk buffer
// with its head room, one chunk at a time, each filled by fill with the
// payload's next bytes (and checked, for a store.Blob's ReadAt) before it
// is written; when filled, the first chunk is already in place. It reports
// whether the whole payload was written.
func (ss *session) copyLocked(tok wire.Token, n int64, whole []byte, filled bool, fill func([]byte) error) bool {
	buf := whole[headRoom:]
	c := min(n, chunkSize)
	if !filled {
		if err := fill(buf[:c]); err != nil {
			ss.readFailed(tok, err)
			return false
		}
	}
	out := ss.headLocked(whole, tok, n, buf[:c])
	for ss.werr == nil {
		ss.conn.SetWriteDeadline(time.Now().Add(ss.srv.cfg.WriteTimeout))
		_, err := ss.conn.Write(out)
		if ss.setErr(err); err != nil {
			return false
		}
		n -= c
		if n == 0 {
			return true
		}
		c = min(n, chunkSize)
		if err := fill(buf[:c]); err != nil {
			ss.srv.log.Warn("read failed mid-response; ending session", "err", err)
			ss.setErr(err)
			return false
		}
		out = buf[:c]
	}
	return false
}

// headLocked returns what to write for the first chunk of an n-byte READ
// payload: the queued small responses and the header, then chunk, which
// starts headRoom bytes into whole. They are laid out in whole's head room
// when they fit; else the small responses are written first, on their own.
func (ss *session) headLocked(whole []byte, tok wire.Token, n int64, chunk []byte) []byte {
	small := ss.takeSmall()
	if len(small)+wire.ResponseHeaderLen > headRoom {
		ss.conn.SetWriteDeadline(time.Now().Add(ss.srv.cfg.WriteTimeout))
		_, err := ss.conn.Write(small)
		ss.setErr(err)
		small = small[:0]
	}
	at := headRoom - len(small) - wire.ResponseHeaderLen
	h := append(whole[at:at], small...)
	wire.AppendResponseHeader(h, wire.ResponseHeader{Token: tok, Len: uint64(n)})
	return whole[at : headRoom+len(chunk)]
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

// readFailed answers a READ whose first bytes could not be read, by the
// kind of the store's error (see openError).
func (ss *session) readFailed(tok wire.Token, err error) {
	var e *wire.Error
	switch {
	case store.Permanent(err):
		e = errChangedWire
	case ss.ctx.Err() != nil:
		e = errCanceled
	case store.Retryable(err):
		ss.srv.log.Warn("read failed; store unavailable", "err", err)
		e = ErrUnavailable
	case errors.Is(err, io.ErrUnexpectedEOF):
		e = errChangedWire // shorter than it was hashed
	default:
		ss.srv.log.Warn("read failed", "err", err)
		e = errReadFailed
	}
	ss.respondErr(tok, e)
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
		ss.cancel()
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
	ss.cancel()
	ss.conn.Close()
}

func (ss *session) writeFailed() bool { return ss.dead.Load() }
