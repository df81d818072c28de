package client

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/rtp-project/rtp/rtpurl"
)

// ALPN is RTP/1's TLS and QUIC application protocol.
const ALPN = "rtp/1"

// Options configure Dial. The zero value verifies TLS certificates against
// the system roots.
type Options struct {
	// TLS is cloned for tls and quic; its NextProtos is set to ALPN and its
	// ServerName defaults to the dial string's host.
	TLS *tls.Config
	// Pins, when not empty, are SHA-256 fingerprints (hex) of server
	// certificates to accept whatever signed them; any other certificate is
	// refused. They replace the CA check, not the handshake.
	Pins []string
	// DialTimeout zero means 10 s.
	DialTimeout time.Duration
}

// pin makes c accept only certificates whose fingerprint is in pins.
func pin(c *tls.Config, pins []string) {
	c.InsecureSkipVerify = true
	c.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 {
			return errors.New("no certificate")
		}
		sum := sha256.Sum256(raw[0])
		got := hex.EncodeToString(sum[:])
		for _, p := range pins {
			if strings.EqualFold(p, got) {
				return nil
			}
		}
		return fmt.Errorf("%w: certificate sha256 %s", ErrNotPinned, got)
	}
}

// QUICConfig is the quic-go configuration clients use. Each session is its
// own connection with one stream, so the stream window is the session's:
// quic-go grows it from 4 MiB up to 32 MiB, twice the bandwidth-delay
// product of 200 Mbit/s over 300 ms; it holds memory only for bytes
// received and not yet read.
func QUICConfig() *quic.Config {
	return &quic.Config{
		InitialStreamReceiveWindow:     4 << 20,
		MaxStreamReceiveWindow:         32 << 20,
		InitialConnectionReceiveWindow: 8 << 20,
		MaxConnectionReceiveWindow:     64 << 20,
		KeepAlivePeriod:                15 * time.Second,
	}
}

// Dial starts a session with the server named by d.
func Dial(ctx context.Context, d rtpurl.Dial, opts *Options) (*Session, error) {
	if opts == nil {
		opts = &Options{}
	}
	timeout := opts.DialTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tlsConf := func() *tls.Config {
		var c *tls.Config
		if opts.TLS != nil {
			c = opts.TLS.Clone()
		} else {
			c = &tls.Config{}
		}
		c.NextProtos = []string{ALPN}
		if len(opts.Pins) > 0 {
			pin(c, opts.Pins)
		}
		if c.ServerName == "" {
			c.ServerName = d.Host
		}
		return c
	}
	switch d.Proto {
	case rtpurl.TCP, rtpurl.TLS:
		var nd net.Dialer
		c, err := nd.DialContext(ctx, "tcp", d.Address())
		if err != nil {
			return nil, err
		}
		if d.Proto == rtpurl.TCP {
			return NewSession(tcpConn{c.(*net.TCPConn)}, nil), nil
		}
		tc := tls.Client(c, tlsConf())
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, fmt.Errorf("tls handshake with %s: %w", d, err)
		}
		return NewSession(tlsConn{tc, c.(*net.TCPConn)}, nil), nil
	case rtpurl.QUIC:
		conn, err := quic.DialAddr(ctx, d.Address(), tlsConf(), QUICConfig())
		if err != nil {
			return nil, fmt.Errorf("quic handshake with %s: %w", d, err)
		}
		st, err := conn.OpenStreamSync(ctx)
		if err != nil {
			conn.CloseWithError(0, "")
			return nil, err
		}
		return NewSession(&quicStream{st, conn}, func() error { return conn.CloseWithError(0, "") }), nil
	}
	return nil, fmt.Errorf("dial %s: %w", d, rtpurl.ErrUnknownProto)
}

type quicStream struct {
	*quic.Stream
	conn *quic.Conn
}

func (q *quicStream) minRTT() time.Duration { return q.conn.ConnectionStats().MinRTT }

func (q *quicStream) Close() error {
	q.Stream.CancelRead(0)
	return q.Stream.Close()
}

// abort resets the stream both ways: the server's read fails instead of
// ending, so it abandons the requests under way.
func (q *quicStream) abort() error {
	q.Stream.CancelRead(0)
	q.Stream.CancelWrite(0)
	return nil
}

// tcpConn and tlsConn abort with a TCP reset (SO_LINGER 0; for TLS, without
// a close_notify), which the server's read sees as an error, not as the end
// of the requests.
type tcpConn struct{ *net.TCPConn }

func (c tcpConn) minRTT() time.Duration { return tcpMinRTT(c.TCPConn) }

func (c tcpConn) abort() error {
	c.SetLinger(0)
	return c.Close()
}

type tlsConn struct {
	*tls.Conn
	raw *net.TCPConn
}

func (c tlsConn) minRTT() time.Duration { return tcpMinRTT(c.raw) }

func (c tlsConn) abort() error {
	c.raw.SetLinger(0)
	return c.raw.Close()
}
