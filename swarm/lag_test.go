package swarm

import (
	"bytes"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rtp-project/rtp/rtpurl"
)

// pace spaces out bytes at a rate, over one connection or shared by
// several, as a link's bottleneck does.
type pace struct {
	rate float64 // bytes/s
	// on and off, when set, make the link bursty: it carries bytes for
	// on, then nothing for off, from its first byte on.
	on, off time.Duration
	// after, when set, is how many bytes go at rate; the rest go at
	// then, as over a connection that fell deep into loss recovery.
	after int64
	then  float64
	mu    sync.Mutex
	sent  int64     // bytes through it so far, for after
	free  time.Time // when the link is next free
	start time.Time // its first byte, for on and off
}

// wait returns when n more bytes may go, having left at the earliest at
// from.
func (p *pace) wait(n int, from time.Time) {
	if p == nil {
		time.Sleep(time.Until(from))
		return
	}
	p.mu.Lock()
	at := from
	if p.free.After(at) {
		at = p.free
	}
	if p.on > 0 {
		if p.start.IsZero() {
			p.start = at
		}
		cycle := p.on + p.off
		if into := at.Sub(p.start) % cycle; into >= p.on {
			at = at.Add(cycle - into) // the next on
		}
	}
	rate := p.rate
	if p.after > 0 && p.sent >= p.after {
		rate = p.then
	}
	p.sent += int64(n)
	p.free = at.Add(time.Duration(float64(n) / rate * float64(time.Second)))
	p.mu.Unlock()
	time.Sleep(time.Until(at))
}

// testProxy listens on loopback and runs handle on a goroutine of its own
// for each connection accepted. When the test ends it stops accepting,
// closes the accepted connections and those handle passed to track, and
// waits for every handle to return.
func testProxy(t *testing.T, handle func(c net.Conn, track func(net.Conn))) rtpurl.Dial {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	closed := false
	track := func(c net.Conn) {
		mu.Lock()
		defer mu.Unlock()
		if closed {
			c.Close()
			return
		}
		conns = append(conns, c)
	}
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		closed = true
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			track(c)
			wg.Go(func() { handle(c, track) })
		}
	})
	ap := netip.MustParseAddrPort(l.Addr().String())
	return rtpurl.Dial{Proto: rtpurl.TCP, Host: ap.Addr().String(), Port: int(ap.Port())}
}

// lagProxy stands for a long or slow path to a server: a TCP proxy on
// loopback that delays every byte by delay each way and paces the
// server's bytes through a pace, one for each connection (perConn) or one
// for all of them (link). It is closed when the test ends.
func lagProxy(t *testing.T, to rtpurl.Dial, delay time.Duration, perConn float64, link *pace) rtpurl.Dial {
	t.Helper()
	return testProxy(t, func(c net.Conn, track func(net.Conn)) {
		s, err := net.Dial("tcp", to.Address())
		if err != nil {
			c.Close()
			return
		}
		track(s)
		p := link
		if perConn > 0 {
			p = &pace{rate: perConn}
		}
		up := make(chan struct{})
		go func() { delayLine(s, c, delay, nil); close(up) }()
		delayLine(c, s, delay, p)
		<-up
	})
}

// delayLine copies src to dst, each chunk delay after it was read and
// paced by p (nil: no limit), and closes both at the end.
func delayLine(dst, src net.Conn, delay time.Duration, p *pace) {
	type chunk struct {
		b  []byte
		at time.Time
	}
	q := make(chan chunk, 1024)
	go func() {
		defer close(q)
		for {
			b := make([]byte, 32<<10)
			n, err := src.Read(b)
			if n > 0 {
				q <- chunk{b[:n], time.Now().Add(delay)}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range q {
		p.wait(len(c.b), c.at)
		if _, err := dst.Write(c.b); err != nil {
			break
		}
	}
	dst.Close()
	src.Close()
	for range q {
	}
}

// lagRun downloads through the proxies and checks the bytes.
func lagRun(t *testing.T, cfg Config, data []byte) *Result {
	t.Helper()
	got, res, err := run(t, cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("output differs")
	}
	for _, s := range res.Servers {
		t.Logf("%s: %d bytes, measured %.1f MB/s, rtt %.1f ms, window %d, sessions %d, path %s",
			s.Server, s.Bytes, s.Measured/1e6, s.RTT, s.Window, s.Sessions, s.Path)
	}
	return res
}

// On a path with a long round trip the window, not the link, limits a
// session: it grows past the floor.
func TestLagWindowGrows(t *testing.T) {
	dir := t.TempDir()
	data, u := randomFile(t, dir, 48<<20)
	ts := serveDir(t, dir, 1)
	far := lagProxy(t, ts[0].dial, 40*time.Millisecond, 0, nil)
	u = withServers(u, ts)
	u.Servers = []rtpurl.Dial{far}
	res := lagRun(t, Config{URL: u, Sessions: 1, MaxSessions: 1, Window: 4}, data)
	s := res.Servers[0]
	if s.Window <= 4 || s.RTT < 80 {
		t.Errorf("80 ms round trip: window %d READs, round trip %.1f ms; want the window above the floor of 4", s.Window, s.RTT)
	}
}

// perConnRun fetches a random file of size from one server through a
// proxy that limits each connection to 4 MB/s on its own, as loss limits
// one TCP connection, starting with one session and up to three.
func perConnRun(t *testing.T, size int) *Result {
	t.Helper()
	dir := t.TempDir()
	data, u := randomFile(t, dir, size)
	ts := serveDir(t, dir, 1)
	u = withServers(u, ts)
	u.Servers = []rtpurl.Dial{lagProxy(t, ts[0].dial, 10*time.Millisecond, 4e6, nil)}
	return lagRun(t, Config{URL: u, Sessions: 1, MaxSessions: 3}, data)
}

// Each connection limited on its own: sessions are added while each makes
// the server faster. 128 MiB: a trial starts only while the blocks left
// would last it out (five periods at the server's rate), and the third
// session's comes after some 50 MB.
func TestLagSessionsAdded(t *testing.T) {
	if s := perConnRun(t, 128<<20).Servers[0]; s.Sessions != 3 {
		t.Errorf("4 MB/s a connection: %d sessions at the end, want the cap of 3", s.Sessions)
	}
}

// The same path, but a file whose blocks would all be handed out before a
// trial ended: no session is added, as one added now would still be in
// its start-up holding some of the last blocks.
func TestLagNoSessionAddedNearTheEnd(t *testing.T) {
	if s := perConnRun(t, 32<<20).Servers[0]; s.Sessions != 1 {
		t.Errorf("32 MiB at 4 MB/s a connection: %d sessions at the end, want 1", s.Sessions)
	}
}

// twoSessionRun fetches a random file of size from one server with two
// sessions, sha256 alone (no tree, so the data sessions are the only
// connections), through a proxy with a delay of 10 ms each way that paces
// the n-th connection it accepts (from 0) with paced(n).
func twoSessionRun(t *testing.T, size int, paced func(n int) *pace) *Result {
	t.Helper()
	dir := t.TempDir()
	data, u := randomFile(t, dir, size)
	u.Hashes = u.Hashes[1:]
	ts := serveDir(t, dir, 1)
	var mu sync.Mutex
	accepted := 0
	u = withServers(u, ts)
	u.Servers = []rtpurl.Dial{testProxy(t, func(c net.Conn, track func(net.Conn)) {
		s, err := net.Dial("tcp", ts[0].dial.Address())
		if err != nil {
			c.Close()
			return
		}
		track(s)
		mu.Lock()
		p := paced(accepted)
		accepted++
		mu.Unlock()
		up := make(chan struct{})
		go func() { delayLine(s, c, 10*time.Millisecond, nil); close(up) }()
		delayLine(c, s, 10*time.Millisecond, p)
		<-up
	})}
	return lagRun(t, Config{URL: u, Sessions: 2, MaxSessions: 2}, data)
}

// Two sessions to one server, the second's connection at a twentieth of
// the first's rate (a TCP connection whose congestion control settled
// low): once every block is handed out, the fast session copies the
// blocks the slow one still holds instead of waiting for them.
func TestLagSlowSessionCopied(t *testing.T) {
	res := twoSessionRun(t, 16<<20, func(n int) *pace {
		return &pace{rate: []float64{6e6, 0.3e6}[n%2]}
	})
	if s := res.Servers[0]; s.Dup == 0 {
		t.Errorf("no block copied from the session at 0.3 MB/s (%d bytes in all)", s.Bytes)
	}
}

// Two sessions to one server at 6 MB/s each, the second's connection
// falling to 0.3 MB/s after its first 3 MB and crawling on, never silent
// for the stuck time (200 ms here; 32 KiB comes every 0.11 s). Its
// measured rate stays that of its good rounds, as none ends while it
// crawls, but the rate since its last round shows it, and the fast
// session copies the blocks it holds once every block is handed out.
func TestLagCrawlingSessionCopied(t *testing.T) {
	res := twoSessionRun(t, 24<<20, func(n int) *pace {
		if n%2 == 1 {
			return &pace{rate: 6e6, after: 3e6, then: 0.3e6}
		}
		return &pace{rate: 6e6}
	})
	if s := res.Servers[0]; s.Dup == 0 {
		t.Errorf("no block copied from the session crawling at 0.3 MB/s (%d bytes in all)", s.Bytes)
	}
}

// One link shared by every connection: a second session brings nothing,
// and is retired. 80 MiB, 10 s: the trial starts two periods (2 s here)
// after the start-up, and runs three.
func TestLagSessionsNotAddedOnSharedLink(t *testing.T) {
	dir := t.TempDir()
	data, u := randomFile(t, dir, 80<<20)
	ts := serveDir(t, dir, 1)
	u = withServers(u, ts)
	u.Servers = []rtpurl.Dial{lagProxy(t, ts[0].dial, 10*time.Millisecond, 0, &pace{rate: 8e6})}
	res := lagRun(t, Config{URL: u, Sessions: 1, MaxSessions: 3}, data)
	if s := res.Servers[0]; s.Sessions != 1 {
		t.Errorf("8 MB/s shared by all connections: %d sessions at the end, want 1", s.Sessions)
	}
}

// Two paths to the same bytes, one a thirtieth of the other: the slow
// one is found slow, keeps one READ in flight, and carries little.
func TestLagSlowPathSteered(t *testing.T) {
	dir := t.TempDir()
	data, u := randomFile(t, dir, 256<<20)
	ts := serveDir(t, dir, 2)
	u = withServers(u, ts)
	u.Servers = []rtpurl.Dial{
		lagProxy(t, ts[0].dial, 10*time.Millisecond, 0, &pace{rate: 30e6}),
		lagProxy(t, ts[1].dial, 10*time.Millisecond, 0, &pace{rate: 1e6}),
	}
	// 256 MiB, 9 s: a path is judged once two measuring periods (2 s here)
	// show its rate no longer growing, and held slow after two more in
	// which every measurement was slow. One session each, as for two hosts: both proxies listen on
	// 127.0.0.1, which the default would take for one host and give each
	// several sessions, so that the fast one may have assigned every block
	// before the slow one is judged.
	res := lagRun(t, Config{URL: u, Sessions: 1}, data)
	fast, slow := res.Servers[0], res.Servers[1]
	if slow.Path != PathSlow && slow.Path != PathProbing {
		t.Errorf("the slow path ended %s, want slow or probing", slow.Path)
	}
	if slow.Path == PathSlow && slow.Window != 1 {
		t.Errorf("the slow path may keep %d READs in flight, want 1", slow.Window)
	}
	if slow.Bytes*8 > fast.Bytes {
		t.Errorf("the slow path carried %d bytes, the fast one %d: want under an eighth", slow.Bytes, fast.Bytes)
	}
}

// A path that delivers in bursts, at the fast path's rate for 1.5 s and
// then nothing for 1.3 s, averages over half the fast path's rate: it is
// not slow, though a 1 s measuring period can fall inside a gap. It is
// never held slow, and carries a fair share.
func TestLagBurstyPathNotSlow(t *testing.T) {
	dir := t.TempDir()
	data, u := randomFile(t, dir, 384<<20)
	ts := serveDir(t, dir, 2)
	u = withServers(u, ts)
	u.Servers = []rtpurl.Dial{
		lagProxy(t, ts[0].dial, 10*time.Millisecond, 0, &pace{rate: 30e6}),
		lagProxy(t, ts[1].dial, 10*time.Millisecond, 0, &pace{rate: 30e6, on: 1500 * time.Millisecond, off: 1300 * time.Millisecond}),
	}
	var logs bytes.Buffer
	res := lagRun(t, Config{URL: u, Sessions: 1, Log: slog.New(slog.NewTextHandler(&logs, nil))}, data)
	steady, bursty := res.Servers[0], res.Servers[1]
	if strings.Contains(logs.String(), "path slow") {
		t.Errorf("the bursty path was held slow:\n%s", logs.String())
	}
	if bursty.Bytes*3 < steady.Bytes {
		t.Errorf("the bursty path carried %d bytes, the steady one %d: want over a third as much", bursty.Bytes, steady.Bytes)
	}
}
