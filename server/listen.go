package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/rtp-project/rtp/rtpurl"
)

// Listener is a bound transport, ready for Server.ListenAndServe.
type Listener struct {
	Dial rtpurl.Dial // with the port actually bound
	tcp  net.Listener
	quic *quic.Listener
}

// Close closes the listener.
func (l *Listener) Close() error {
	if l.quic != nil {
		return l.quic.Close()
	}
	return l.tcp.Close()
}

// Listen binds the transport d names. tls and quic need tlsConf. TCP
// listeners get Config.TCP's socket options, which the connections they
// accept inherit.
func (s *Server) Listen(d rtpurl.Dial, tlsConf *tls.Config) (*Listener, error) {
	switch d.Proto {
	case rtpurl.TCP, rtpurl.TLS:
		rep, err := s.tcpReport()
		if err != nil {
			return nil, err
		}
		lc := net.ListenConfig{Control: rep.control}
		ln, err := lc.Listen(context.Background(), "tcp", d.Address())
		if err != nil {
			return nil, err
		}
		if rep.NotSentLowat > 0 || rep.setCongestion != "" || rep.onRandomLoss != "" {
			ln = &acceptListener{Listener: ln, rep: rep, log: s.log, hosts: &s.lossy}
		}
		l := &Listener{Dial: rtpurl.DialFromAddr(d.Proto, ln.Addr()), tcp: ln}
		if d.Proto == rtpurl.TLS {
			l.tcp = tls.NewListener(ln, tlsConf)
		}
		return l, nil
	case rtpurl.QUIC:
		ln, err := quic.ListenAddr(d.Address(), tlsConf, s.quicConfig())
		if err != nil {
			return nil, err
		}
		return &Listener{Dial: rtpurl.DialFromAddr(d.Proto, ln.Addr()), quic: ln}, nil
	}
	return nil, fmt.Errorf("listen %s: %w", d, rtpurl.ErrUnknownProto)
}

// ServeListener serves l until it fails or Shutdown is called.
func (s *Server) ServeListener(ctx context.Context, l *Listener) error {
	if l.quic != nil {
		return s.ServeQUIC(ctx, l.quic)
	}
	return s.Serve(ctx, l.tcp)
}

func (s *Server) quicConfig() *quic.Config {
	return &quic.Config{
		HandshakeIdleTimeout:           s.cfg.HandshakeTimeout,
		MaxIdleTimeout:                 s.cfg.IdleTimeout + 30*time.Second,
		MaxIncomingStreams:             int64(min(s.cfg.MaxSessionsPerHost, 1000)),
		MaxIncomingUniStreams:          -1,
		InitialStreamReceiveWindow:     64 << 10,
		MaxStreamReceiveWindow:         1 << 20,
		InitialConnectionReceiveWindow: 256 << 10,
		MaxConnectionReceiveWindow:     4 << 20,
	}
}
