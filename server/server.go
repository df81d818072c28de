package server

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/rtp-project/rtp/rtpurl"
)

// ALPN is RTP/1's TLS and QUIC application protocol.
const ALPN = "rtp/1"

// Server serves RTP/1 sessions. Create it with New.
type Server struct {
	cfg Config
	log *slog.Logger
	met Metrics

	mu        sync.Mutex
	closing   bool
	listeners map[io.Closer]struct{}
	sessions  map[*session]struct{}
	perHost   map[string]int
	count     int            // admitted sessions
	wg        sync.WaitGroup // sessions and accept loops
	tcp       tcpResolved    // Config.TCP as this host applies it
	lossy     lossyHosts     // hosts whose connections showed random loss
	ahead     chan struct{}  // chunk buffers read before a write lock, server-wide (see serveRead)

	inflightFull func()      // for tests: called when a READ waits for MaxInflight
	openWait     func()      // for tests: called when a request waits for an OPEN under way
	inputEnded   func(error) // for tests: called when a session's reader stops, with why
}

// New returns a server with cfg's settings.
func New(cfg Config) *Server {
	cfg.setDefaults()
	return &Server{
		cfg:       cfg,
		log:       cfg.Logger,
		met:       cfg.Metrics,
		listeners: make(map[io.Closer]struct{}),
		sessions:  make(map[*session]struct{}),
		perHost:   make(map[string]int),
		ahead:     make(chan struct{}, aheadBuffers),
	}
}

// ErrServerClosed is returned by Serve and ServeQUIC after Shutdown.
var ErrServerClosed = errors.New("server: closed")

// Serve accepts connections on ln, a TCP listener or a tls.NewListener, and
// serves one session on each, until ln fails or Shutdown is called. It
// closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if !s.track(ln) {
		ln.Close()
		return ErrServerClosed
	}
	defer s.untrack(ln)
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.isClosing() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				// Out of descriptors or similar: back off, like net/http.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.log.Warn("accept failed; retrying", "err", err, "delay", delay)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		host := hostOf(c.RemoteAddr())
		if !s.admit(host) {
			c.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.release(host)
			transport := rtpurl.TCP
			if tc, ok := c.(*tls.Conn); ok {
				transport = rtpurl.TLS
				hctx, cancel := context.WithTimeout(ctx, s.cfg.HandshakeTimeout)
				err := tc.HandshakeContext(hctx)
				cancel()
				if err != nil {
					s.log.Debug("tls handshake failed", "remote", c.RemoteAddr(), "err", err)
					s.met.SessionRejected(RejectHandshake)
					c.Close()
					return
				}
			}
			s.serveSession(ctx, c, c.RemoteAddr(), transport)
		}()
	}
}

// ServeQUIC accepts QUIC connections on ln and serves a session on each of
// their bidirectional streams, until ln fails or Shutdown is called. It
// closes ln.
func (s *Server) ServeQUIC(ctx context.Context, ln *quic.Listener) error {
	if !s.track(ln) {
		ln.Close()
		return ErrServerClosed
	}
	defer s.untrack(ln)
	for {
		conn, err := ln.Accept(ctx)
		if err != nil {
			if s.isClosing() || ctx.Err() != nil {
				return ErrServerClosed
			}
			return err
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveQUICConn(ctx, conn)
		}()
	}
}

func (s *Server) serveQUICConn(ctx context.Context, conn *quic.Conn) {
	defer conn.CloseWithError(0, "")
	host := hostOf(conn.RemoteAddr())
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		st, err := conn.AcceptStream(ctx)
		if err != nil {
			return
		}
		if !s.admit(host) {
			st.CancelRead(0)
			st.Close()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.release(host)
			s.serveSession(ctx, &quicStream{st}, conn.RemoteAddr(), rtpurl.QUIC)
		}()
	}
}

// quicStream makes a QUIC stream close both ways.
type quicStream struct{ *quic.Stream }

func (q *quicStream) Close() error {
	q.Stream.CancelRead(0)
	return q.Stream.Close()
}

// Conn is what a session runs on: a TCP or TLS connection or a QUIC stream.
type Conn interface {
	io.ReadWriteCloser
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
}

// Shutdown stops accepting, lets every session finish the READs it has
// started without reading new requests, and returns when all are done or
// ctx expires; then it closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	for l := range s.listeners {
		l.Close()
	}
	for ss := range s.sessions {
		ss.stop()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for ss := range s.sessions {
			ss.cancel()
			ss.conn.Close()
		}
		s.mu.Unlock()
		<-done
		return ctx.Err()
	}
}

func (s *Server) track(l io.Closer) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.listeners[l] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(l io.Closer) {
	s.mu.Lock()
	delete(s.listeners, l)
	s.mu.Unlock()
	s.wg.Done()
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// admit counts a new session from host, or refuses it past a limit.
func (s *Server) admit(host string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closing:
		s.met.SessionRejected(RejectShutdown)
		return false
	case s.count >= s.cfg.MaxSessions:
		s.log.Debug("session refused: too many sessions", "remote", host)
		s.met.SessionRejected(RejectMaxSessions)
		return false
	case host != "" && s.perHost[host] >= s.cfg.MaxSessionsPerHost:
		s.log.Debug("session refused: too many sessions from host", "remote", host)
		s.met.SessionRejected(RejectMaxPerHost)
		return false
	}
	s.perHost[host]++
	s.count++
	return true
}

func (s *Server) release(host string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.count--
	if s.perHost[host]--; s.perHost[host] <= 0 {
		delete(s.perHost, host)
	}
}

func hostOf(a net.Addr) string {
	if a == nil {
		return ""
	}
	h, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return h
}
