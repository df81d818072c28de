package client

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtp-project/rtp/wire"
)

// maxSmallPayload bounds an OPEN's payload or an error string.
const maxSmallPayload = 64 << 10

// copyBufSize is the buffer a payload passes through on its way to a Call's
// writer.
const copyBufSize = 256 << 10

// headerBufSize is the read buffer responses are parsed from. It is small:
// the payload bytes a header read brings along are few, and the rest of a
// payload is read straight into the copy buffer, so a session touches 260
// KiB per READ instead of 512, which the CPU's caches hold better.
const headerBufSize = 4 << 10

// Session is one RTP/1 session. Its methods are safe for concurrent use.
type Session struct {
	conn    io.ReadWriteCloser
	onClose func() error // closes what the session owns beyond conn

	wmu    sync.Mutex
	bw     *bufio.Writer
	corked int // Cork calls not yet undone: requests wait in bw

	mu      sync.Mutex
	pending map[wire.Token]*Call
	err     error // why the session ended; set once
	next    atomic.Uint64
	done    chan struct{}
}

// Call is one request in flight.
type Call struct {
	Token  wire.Token
	Type   wire.Type
	Offset uint64 // READ
	Length uint64 // READ: the maximum asked for

	// N is the payload length received, Err the outcome (a *wire.Error for
	// an ERROR response). Both are set before Done is closed.
	N    int64
	Err  error
	Done chan struct{}

	dst io.Writer // READ payload goes here
}

// Wait waits for the response or ctx.
func (c *Call) Wait(ctx context.Context) error {
	select {
	case <-c.Done:
		return c.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// NewSession runs a session over rw, which it closes when the session ends.
// onClose, if not nil, is called after rw is closed.
func NewSession(rw io.ReadWriteCloser, onClose func() error) *Session {
	s := &Session{
		conn:    rw,
		onClose: onClose,
		bw:      bufio.NewWriterSize(rw, 4<<10),
		pending: make(map[wire.Token]*Call),
		done:    make(chan struct{}),
	}
	go s.receive(bufio.NewReaderSize(rw, headerBufSize))
	return s
}

// Done is closed when the session has ended; Err then says why.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err returns why the session ended, or nil while it runs.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close ends the session; calls in flight fail with ErrClosed.
func (s *Session) Close() error {
	s.fail(ErrClosed)
	<-s.done
	return nil
}

// StartOpen sends an OPEN of uri.
func (s *Session) StartOpen(uri string) *Call {
	c := s.newCall(wire.Open, nil)
	req := wire.NewOpen(c.Token, uri)
	s.send(c, &req)
	return c
}

// StartRead sends a READ of length bytes at offset of the resource opened as
// open. The payload is written to dst, which must not be nil, as it arrives.
// dst's Write may be called from another goroutine.
func (s *Session) StartRead(open wire.Token, offset, length uint64, dst io.Writer) *Call {
	c := s.newCall(wire.Read, dst)
	c.Offset, c.Length = offset, length
	req := wire.NewRead(c.Token, open, offset, length)
	s.send(c, &req)
	return c
}

// Open opens uri and returns its token.
func (s *Session) Open(ctx context.Context, uri string) (wire.Token, error) {
	c := s.StartOpen(uri)
	return c.Token, c.Wait(ctx)
}

// ReadAt reads up to len(p) bytes at offset of open. An empty result with a
// nil error means offset is at or past the end.
func (s *Session) ReadAt(ctx context.Context, open wire.Token, p []byte, offset uint64) (int, error) {
	w := &sliceWriter{p: p}
	c := s.StartRead(open, offset, uint64(len(p)), w)
	err := c.Wait(ctx)
	return w.n, err
}

type sliceWriter struct {
	p []byte
	n int
}

func (w *sliceWriter) Write(b []byte) (int, error) {
	if len(b) > len(w.p)-w.n {
		return 0, io.ErrShortBuffer
	}
	w.n += copy(w.p[w.n:], b)
	return len(b), nil
}

func (s *Session) newCall(t wire.Type, dst io.Writer) *Call {
	return &Call{Token: wire.TokenFromUint64(s.next.Add(1)), Type: t, dst: dst, Done: make(chan struct{})}
}

// send registers c and writes req.
func (s *Session) send(c *Call, req *wire.Request) {
	s.mu.Lock()
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		c.Err = err
		close(c.Done)
		return
	}
	s.pending[c.Token] = c
	s.mu.Unlock()

	var b [64]byte
	s.wmu.Lock()
	_, err := s.bw.Write(req.Append(b[:0]))
	if err == nil && s.corked == 0 {
		err = s.bw.Flush()
	}
	s.wmu.Unlock()
	if err != nil {
		s.fail(err)
	}
}

// A Filler is a READ destination that lends the memory its bytes go to:
// the session reads the payload from the connection straight into it
// rather than through a buffer of its own and Write, saving a copy. It
// is used while Unfilled has room for the rest of the payload.
type Filler interface {
	io.Writer
	// Unfilled returns the memory the next bytes go to.
	Unfilled() []byte
	// Filled records that the first n bytes of Unfilled were written.
	Filled(n int)
}

func unfilled(f Filler) []byte {
	if f == nil {
		return nil
	}
	return f.Unfilled()
}

// RTT returns the least round trip the session's transport has seen so
// far (TCP's from the kernel, QUIC's from its acknowledgements), or 0 when
// it does not know: a network's, without the time requests wait for the
// server or behind other answers.
func (s *Session) RTT() time.Duration {
	if r, ok := s.conn.(interface{ minRTT() time.Duration }); ok {
		return r.minRTT()
	}
	return 0
}

// Cork holds back the requests started from now on (past the 4 KiB of a
// buffer) until the matching Uncork, which sends them together: one write,
// one TLS record, one QUIC frame for many small requests instead of one
// each. Each Cork needs its Uncork.
func (s *Session) Cork() {
	s.wmu.Lock()
	s.corked++
	s.wmu.Unlock()
}

// Uncork undoes a Cork, sending what waits once no Cork is left.
func (s *Session) Uncork() {
	s.wmu.Lock()
	s.corked--
	var err error
	if s.corked == 0 {
		err = s.bw.Flush()
	}
	s.wmu.Unlock()
	if err != nil {
		s.fail(err)
	}
}

// fail ends the session with err and fails every pending call.
func (s *Session) fail(err error) {
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return
	}
	s.err = err
	pending := s.pending
	s.pending = nil
	s.mu.Unlock()
	// With requests outstanding the session is abandoned, not ended: a
	// reset tells the server to stop working on them. (A server takes the
	// plain end of a client's requests as a half-close, and still answers
	// every one.)
	if a, ok := s.conn.(interface{ abort() error }); ok && len(pending) > 0 {
		a.abort()
	} else {
		s.conn.Close()
	}
	if s.onClose != nil {
		s.onClose()
	}
	for _, c := range pending {
		c.Err = err
		close(c.Done)
	}
}

func (s *Session) receive(br *bufio.Reader) {
	defer close(s.done)
	buf := make([]byte, copyBufSize)
	for {
		h, err := wire.ReadResponseHeader(br)
		if err != nil {
			s.fail(err)
			return
		}
		s.mu.Lock()
		c := s.pending[h.Token]
		delete(s.pending, h.Token)
		s.mu.Unlock()
		if c == nil {
			s.fail(fmt.Errorf("%w: response to unknown token %v", ErrProtocol, h.Token))
			return
		}
		if err := s.receivePayload(br, c, h, buf); err != nil {
			c.Err = err
			close(c.Done)
			s.fail(err)
			return
		}
		close(c.Done)
	}
}

// receivePayload reads c's payload and sets c.N and c.Err. A non-nil return
// is fatal to the session.
func (s *Session) receivePayload(br *bufio.Reader, c *Call, h wire.ResponseHeader, buf []byte) error {
	if h.IsError || c.Type == wire.Open {
		if h.Len > maxSmallPayload {
			return fmt.Errorf("%w: %d-byte payload for %v", ErrProtocol, h.Len, c.Type)
		}
		p := buf[:h.Len]
		if _, err := io.ReadFull(br, p); err != nil {
			return err
		}
		if h.IsError {
			c.Err = wire.ParseError(string(p))
		}
		return nil
	}
	if h.Len > c.Length {
		return fmt.Errorf("%w: %d-byte payload for a READ of at most %d", ErrProtocol, h.Len, c.Length)
	}
	var dstErr error
	filler, _ := c.dst.(Filler)
	for left := int64(h.Len); left > 0; {
		var n int
		var err error
		switch sp := unfilled(filler); {
		case br.Buffered() > 0:
			// Bytes the header read brought along go to dst from br's
			// buffer, not copied through buf first.
			p, _ := br.Peek(int(min(int64(br.Buffered()), left)))
			n = len(p)
			if dstErr == nil {
				_, dstErr = c.dst.Write(p)
			}
			br.Discard(n)
		case dstErr == nil && int64(len(sp)) >= left:
			// Straight from the connection into the destination's memory.
			n, err = br.Read(sp[:left])
			filler.Filled(n)
		default:
			n, err = br.Read(buf[:min(left, int64(len(buf)))])
			if n > 0 && dstErr == nil {
				_, dstErr = c.dst.Write(buf[:n])
			}
		}
		left -= int64(n)
		c.N += int64(n)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	c.Err = dstErr
	return nil
}
