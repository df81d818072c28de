package swarm

import (
	"bytes"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rtp-project/rtp/rtpurl"
)

// cutFirst is a TCP proxy on loopback to the server at to that cuts its
// first connection once the client has sent n bytes (its OPEN and a few
// READs), having passed nothing back, and passes every later one through.
func cutFirst(t *testing.T, to rtpurl.Dial, n int) rtpurl.Dial {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	var first atomic.Bool
	first.Store(true)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if first.Swap(false) {
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer c.Close()
					io.ReadFull(c, make([]byte, n))
				}()
				continue
			}
			s, err := net.Dial("tcp", to.Address())
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, s)
			mu.Unlock()
			wg.Add(2)
			go func() { defer wg.Done(); io.Copy(s, c); s.Close() }()
			go func() { defer wg.Done(); io.Copy(c, s); c.Close() }()
		}
	}()
	ap := netip.MustParseAddrPort(l.Addr().String())
	return rtpurl.Dial{Proto: rtpurl.TCP, Host: ap.Addr().String(), Port: int(ap.Port())}
}

// A session whose connection dies with its OPEN unanswered and READs in
// flight gives every one of their blocks back. A READ's error was handled
// by first waiting for the OPEN's answer, and when that wait ended with the
// session's own error, the block was left to the dead session: with one
// server nothing ever fetched it again, and the download hung (seen when
// an rtpd was killed right after a session connected).
func TestSessionDiesBeforeOpenAnswer(t *testing.T) {
	dir := t.TempDir()
	data, u := randomFile(t, dir, 4<<20)
	ts := serveDir(t, dir, 1)
	retried := 0
	for round := range 12 {
		c := *u
		c.Servers = []rtpurl.Dial{cutFirst(t, ts[0].dial, 120)}
		cfg := Config{URL: &c, BlockSize: 256 << 10, Sessions: 1, MaxSessions: 1, Backoff: 10 * time.Millisecond, Stall: 5 * time.Second}
		got, res, err := run(t, cfg, "")
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("round %d: output differs", round)
		}
		if res.Servers[0].Retries > 0 {
			retried++ // the cut fell on a session (not the tree's fetch)
		}
	}
	if retried == 0 {
		t.Error("no round cut a session: the test showed nothing")
	}
	t.Logf("%d of 12 rounds cut a session", retried)
}
