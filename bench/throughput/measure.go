package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/rtp-project/rtp/client"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/server"
)

// chunk is the client's read size (client/session.go) and the bare server's
// write size, as rtpd's (server/session.go).
const chunk = 256 << 10

// counter counts what is written to it. Unlike io.Discard it has no ReadFrom
// to impose its own small buffer.
type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

func mbps(n int64, start time.Time) float64 { return float64(n) / time.Since(start).Seconds() / 1e6 }

var clientTLS = &tls.Config{InsecureSkipVerify: true, NextProtos: []string{client.ALPN}}

// measureRTP downloads uri, size bytes, over one session with d, keeping
// -window READs in flight; MB/s counts from the first READ to the last byte.
func measureRTP(ctx context.Context, d rtpurl.Dial, uri string, size int64) (float64, error) {
	s, err := client.Dial(ctx, d, &client.Options{TLS: clientTLS})
	if err != nil {
		return 0, err
	}
	defer s.Close()
	tok, err := s.Open(ctx, uri)
	if err != nil {
		return 0, err
	}
	var sink counter // written only by the session's receiver
	done := make(chan *client.Call, *flagWindow)
	off, inflight := int64(0), 0
	next := func() {
		c := s.StartRead(tok, uint64(off), uint64(min(*flagRead, size-off)), &sink)
		off += int64(c.Length)
		inflight++
		go func() { <-c.Done; done <- c }()
	}
	start := time.Now()
	for {
		for inflight < *flagWindow && off < size {
			next()
		}
		if inflight == 0 {
			break
		}
		select {
		case c := <-done:
			if c.Err == nil && c.N != int64(c.Length) {
				c.Err = fmt.Errorf("READ at %d: %d bytes, want %d", c.Offset, c.N, c.Length)
			}
			if c.Err != nil {
				return 0, c.Err
			}
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		inflight--
	}
	if sink.n != size {
		return 0, fmt.Errorf("got %d bytes, want %d", sink.n, size)
	}
	return mbps(size, start), nil
}

// newSender returns what the bare server does on each connection: write
// size bytes from source, at most the file's, in 256 KiB writes.
func newSender(source, path string) (func(w io.Writer, size int64) error, error) {
	if source != "mem" && source != "bigmem" && source != "file" && source != "sendfile" {
		return nil, fmt.Errorf("unknown -source %q", source)
	}
	mem := make([]byte, chunk)
	if source == "bigmem" {
		// Distinct bytes for the whole size, as a file has: the copy reads
		// them from memory rather than from a cache-hot 256 KiB buffer.
		mem = make([]byte, *flagSize)
	}
	rand.NewChaCha8([32]byte{}).Read(mem)
	return func(w io.Writer, size int64) error {
		var f *os.File
		if source == "file" || source == "sendfile" {
			var err error
			if f, err = os.Open(path); err != nil {
				return err
			}
			defer f.Close()
		}
		if source == "sendfile" {
			_, err := io.Copy(w, io.LimitReader(f, size)) // *net.TCPConn.ReadFrom: sendfile(2)
			return err
		}
		buf := make([]byte, chunk)
		var err error
		for off := int64(0); off < size && err == nil; off += chunk {
			p := buf[:min(size-off, chunk)]
			if f == nil && source == "bigmem" {
				p = mem[off : off+int64(len(p))]
			} else if f == nil {
				p = mem[:len(p)]
			} else if _, err = f.ReadAt(p, off); err != nil {
				break
			}
			_, err = w.Write(p)
		}
		return err
	}, nil
}

// serverQUICConfig has the windows of rtpd's (server/listen.go quicConfig).
// They bound only what the client sends.
func serverQUICConfig() *quic.Config {
	return &quic.Config{
		InitialStreamReceiveWindow:     64 << 10,
		MaxStreamReceiveWindow:         1 << 20,
		InitialConnectionReceiveWindow: 256 << 10,
		MaxConnectionReceiveWindow:     4 << 20,
	}
}

// serveBare listens on loopback for proto and, on each connection (QUIC: on
// its first stream), sends as many bytes as the client asks for in 8 bytes.
func serveBare(ctx context.Context, proto string, cert tls.Certificate, send func(io.Writer, int64) error) (net.Addr, error) {
	var accept func() (io.ReadWriteCloser, error)
	var ln io.Closer
	var addr net.Addr
	if proto == rtpurl.QUIC {
		ql, err := quic.ListenAddr("127.0.0.1:0", server.TLSConfig(cert), serverQUICConfig())
		if err != nil {
			return nil, err
		}
		ln, addr = ql, ql.Addr()
		accept = func() (io.ReadWriteCloser, error) {
			conn, err := ql.Accept(ctx)
			if err != nil {
				return nil, err
			}
			return conn.AcceptStream(ctx) // closing it closes only our side
		}
	} else {
		tl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		addr = tl.Addr()
		if proto == rtpurl.TLS {
			tl = tls.NewListener(tl, server.TLSConfig(cert))
		}
		ln, accept = tl, func() (io.ReadWriteCloser, error) { return tl.Accept() }
	}
	go func() { <-ctx.Done(); ln.Close() }()
	go func() {
		for {
			rw, err := accept()
			if err != nil {
				return
			}
			go func() {
				defer rw.Close()
				var n [8]byte
				if _, err := io.ReadFull(rw, n[:]); err != nil {
					return
				}
				if err := send(rw, int64(binary.BigEndian.Uint64(n[:]))); err != nil {
					fmt.Fprintln(os.Stderr, "bare server:", err)
				}
			}()
		}
	}()
	return addr, nil
}

// measureBare receives size bytes from d through the read loop of
// client/session.go; MB/s counts from the request to the last byte.
func measureBare(ctx context.Context, d rtpurl.Dial, size int64) (float64, error) {
	var rw io.ReadWriter
	switch d.Proto {
	case rtpurl.QUIC:
		conn, err := quic.DialAddr(ctx, d.Address(), clientTLS, client.QUICConfig())
		if err != nil {
			return 0, err
		}
		defer conn.CloseWithError(0, "")
		if rw, err = conn.OpenStreamSync(ctx); err != nil {
			return 0, err
		}
	default:
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", d.Address())
		if err == nil && d.Proto == rtpurl.TLS {
			tc := tls.Client(c, clientTLS)
			c, err = tc, tc.HandshakeContext(ctx)
		}
		if err != nil {
			return 0, err
		}
		defer c.Close()
		rw = c
	}
	br, buf, sink := bufio.NewReaderSize(rw, chunk), make([]byte, chunk), &counter{}
	start := time.Now()
	if _, err := rw.Write(binary.BigEndian.AppendUint64(nil, uint64(size))); err != nil {
		return 0, err
	}
	for sink.n < size {
		n, err := br.Read(buf[:min(size-sink.n, chunk)])
		sink.Write(buf[:n])
		if err != nil && sink.n < size {
			return 0, err
		}
	}
	return mbps(size, start), nil
}
