package server_test

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/rtp-project/rtp/client"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/server"
	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/urn"
)

// dialFrom starts a TCP session to d from the loopback address src.
func dialFrom(t *testing.T, d rtpurl.Dial, src string) *client.Session {
	t.Helper()
	dl := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := dl.Dial("tcp", d.Address())
	if err != nil {
		t.Fatal(err)
	}
	s := client.NewSession(c, nil)
	t.Cleanup(func() { s.Close() })
	return s
}

func TestPerHostLimit(t *testing.T) {
	data := []byte("per host")
	f := newFixture(t, server.Config{MaxSessionsPerHost: 2}, map[string][]byte{"a": data})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range 2 {
		if _, err := dialFrom(t, f.dials["tcp"], "127.0.0.1").Open(ctx, sha(data)); err != nil {
			t.Fatalf("session %d from 127.0.0.1: %v", i, err)
		}
	}
	if _, err := dialFrom(t, f.dials["tcp"], "127.0.0.1").Open(ctx, sha(data)); err == nil {
		t.Error("a third session from 127.0.0.1 was served past MaxSessionsPerHost=2")
	}
	if _, err := dialFrom(t, f.dials["tcp"], "127.0.0.2").Open(ctx, sha(data)); err != nil {
		t.Errorf("a session from another address was refused: %v", err)
	}
}

func TestIdleTimeout(t *testing.T) {
	data := []byte("idle")
	f := newFixture(t, server.Config{IdleTimeout: 300 * time.Millisecond}, map[string][]byte{"a": data})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, proto := range []string{"tcp", "tls", "quic"} {
		s, err := client.Dial(ctx, f.dials[proto], f.opts)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, err := s.Open(ctx, sha(data)); err != nil {
			t.Fatalf("%s: %v", proto, err)
		}
		start := time.Now()
		select {
		case <-s.Done():
			t.Logf("%s: idle session closed after %v", proto, time.Since(start).Round(10*time.Millisecond))
		case <-time.After(5 * time.Second):
			t.Errorf("%s: idle session still open after 5 s with IdleTimeout=300ms", proto)
		}
	}
}

func TestHandshakeTimeout(t *testing.T) {
	f := newFixture(t, server.Config{HandshakeTimeout: 300 * time.Millisecond}, map[string][]byte{"a": []byte("x")})
	c, err := net.Dial("tcp", f.dials["tls"].Address())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Say nothing: the server must give up on the handshake.
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	_, err = io.ReadAll(c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("a silent TLS client was kept for 5 s with HandshakeTimeout=300ms")
	}
	t.Logf("silent TLS client closed after %v (%v)", time.Since(start).Round(10*time.Millisecond), err)
}

// gated holds every read until the gate opens.
type gated struct {
	store.Opener
	gate chan struct{}
}

func (g *gated) Open(ctx context.Context, h urn.Hash) (store.Blob, error) {
	b, err := g.Opener.Open(ctx, h)
	if err != nil {
		return nil, err
	}
	return gatedBlob{b, g.gate}, nil
}

type gatedBlob struct {
	store.Blob
	gate chan struct{}
}

func (b gatedBlob) ReadAt(p []byte, off int64) (int, error) {
	<-b.gate
	return b.Blob.ReadAt(p, off)
}

// TestInflightLimit: while its READs are held at the disk, a session has
// at most MaxInflight of them taken on (counted by the server's Metrics);
// the rest wait unread. Under the limit, all are taken on at once. The
// test knows the server got there by what it did, not by waiting: past the
// limit, the session calls the hook of SetInflightFullHook as a READ waits
// for a slot; under it, the Metrics count every READ taken on.
func TestInflightLimit(t *testing.T) {
	data := random(64 << 10)
	f := newFixture(t, server.Config{}, map[string][]byte{"a": data})
	for _, tc := range []struct{ inflight, reads, want int }{{2, 8, 2}, {16, 8, 8}} {
		g := &gated{Opener: f.disk, gate: make(chan struct{})}
		m := newCounts()
		srv := server.New(server.Config{Store: g, MaxInflight: tc.inflight, Metrics: m})
		full := make(chan struct{}, 1)
		server.SetInflightFullHook(srv, func() {
			select {
			case full <- struct{}{}:
			default:
			}
		})
		l, err := srv.Listen(rtpurl.Dial{Proto: "tcp", Host: "127.0.0.1"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		go srv.ServeListener(ctx, l)
		defer srv.Shutdown(ctx)
		s, err := client.Dial(ctx, l.Dial, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		tok, err := s.Open(ctx, sha(data))
		if err != nil {
			t.Fatal(err)
		}
		var calls []*client.Call
		for i := range tc.reads {
			calls = append(calls, s.StartRead(tok, uint64(i)*4096, 4096, io.Discard))
		}
		inflight := func() int { defer m.lock()(); return m.inflight }
		if tc.reads > tc.inflight {
			// The session reads requests in order and takes each on
			// before the next: when one waits, those before it are in.
			select {
			case <-full:
			case <-ctx.Done():
				t.Fatalf("MaxInflight=%d: no READ waited for a slot; %d taken on", tc.inflight, inflight())
			}
		} else {
			for inflight() < tc.reads && ctx.Err() == nil {
				time.Sleep(5 * time.Millisecond)
			}
		}
		held := inflight()
		close(g.gate)
		for i, c := range calls {
			if err := c.Wait(ctx); err != nil {
				t.Fatalf("READ %d: %v", i, err)
			}
		}
		most := func() int { defer m.lock()(); return m.maxIn }()
		t.Logf("MaxInflight=%d, %d pipelined READs held at the disk: %d taken on; at most %d at once", tc.inflight, tc.reads, held, most)
		if held != tc.want || most != tc.want {
			t.Errorf("MaxInflight=%d, %d READs held: %d taken on, at most %d at once; want %d", tc.inflight, tc.reads, held, most, tc.want)
		}
		if tc.reads <= tc.inflight && len(full) > 0 {
			t.Errorf("MaxInflight=%d: a READ waited for a slot with %d READs in all", tc.inflight, tc.reads)
		}
	}
}
