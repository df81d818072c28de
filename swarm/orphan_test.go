package swarm

import (
	"bytes"
	"io"
	"net"
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
	var first atomic.Bool
	first.Store(true)
	return testProxy(t, func(c net.Conn, track func(net.Conn)) {
		defer c.Close()
		if first.Swap(false) {
			io.ReadFull(c, make([]byte, n))
			return
		}
		s, err := net.Dial("tcp", to.Address())
		if err != nil {
			return
		}
		track(s)
		up := make(chan struct{})
		go func() { io.Copy(s, c); s.Close(); close(up) }()
		io.Copy(c, s)
		c.Close()
		<-up
	})
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
