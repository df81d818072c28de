package server

import (
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rtp-project/rtp/bench/wan"
)

// bbrState reads a connection's pacing cap (SO_MAX_PACING_RATE), its
// pacing rate (TCP_INFO) and bbr's pacing gain and bandwidth estimate.
func bbrState(t *testing.T, c *net.TCPConn) (maxPacing, pacing uint64, gain uint32, bw uint64) {
	t.Helper()
	sockopt(t, c, func(fd int) (any, error) {
		var err error
		if maxPacing, err = unix.GetsockoptUint64(fd, unix.SOL_SOCKET, unix.SO_MAX_PACING_RATE); err != nil {
			return nil, err
		}
		info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
		if err != nil {
			return nil, err
		}
		pacing = info.Pacing_rate
		var b unix.TCPBBRInfo
		if err := getBBRInfo(fd, &b); err != nil {
			return nil, err
		}
		gain, bw = b.Pacing_gain, uint64(b.Bw_hi)<<32|uint64(b.Bw_lo)
		return nil, nil
	})
	return
}

// A bbr connection that always has less to send than its window never
// leaves start-up, and paces at 2.89 times its estimate until rtpd caps it
// at 1.25 times.
func TestStartupCapOnEmulatedLink(t *testing.T) {
	if err := wan.Usable(); err != nil {
		t.Skip(err)
	}
	if _, err := (TCPOptions{Congestion: "bbr"}).Resolve(); err != nil {
		t.Skipf("bbr: %v", err)
	}
	down := wan.Dir{Delay: 20 * time.Millisecond, Rate: 100e6}
	sc := acrossLink(t, down, wan.Dir{Delay: 20 * time.Millisecond}, TCPOptions{Congestion: "bbr"})
	w, ok := sc.(*paceWatch)
	if !ok {
		t.Fatalf("accepted %T, want a *paceWatch", sc)
	}
	// 64 KiB every 10 ms: about half the link, so the application, not
	// the path, limits every round trip.
	buf := make([]byte, 64<<10)
	stuck := false // seen pacing at more than twice the estimate
	deadline := time.Now().Add(10 * time.Second)
	sc.SetWriteDeadline(deadline)
	for time.Now().Before(deadline) {
		if _, err := sc.Write(buf); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
		maxPacing, pacing, gain, bw := bbrState(t, w.TCPConn)
		if maxPacing == noPacingCap {
			stuck = stuck || gain >= bbrStartupGain && bw > 0 && pacing > 2*bw
			continue
		}
		if !stuck {
			t.Errorf("capped at %d B/s before start-up was seen pacing at over twice the estimate", maxPacing)
		}
		if r := float64(maxPacing) / float64(bw); r < 1.1 || r > 1.4 {
			t.Errorf("cap %d B/s is %.2f times bbr's estimate %d, want about %.2f", maxPacing, r, bw, startupCapGain)
		}
		if pacing > maxPacing {
			t.Errorf("pacing at %d B/s, over the cap of %d", pacing, maxPacing)
		}
		t.Logf("capped at %d B/s, bbr's estimate %d, gain %d", maxPacing, bw, gain)
		return
	}
	t.Fatalf("no pacing cap after 10 s (seen stuck in start-up: %v)", stuck)
}

// On loopback the watch stops at its first sample: a path that short needs
// no cap, and costs no timer.
func TestPaceWatchLeavesLoopbackAlone(t *testing.T) {
	if _, err := (TCPOptions{Congestion: "bbr"}).Resolve(); err != nil {
		t.Skipf("bbr: %v", err)
	}
	srv := New(Config{TCP: TCPOptions{Congestion: "bbr"}})
	sc := acceptFrom(t, listenLoopback(t, srv), "127.0.0.1")
	w, ok := sc.(*paceWatch)
	if !ok {
		t.Fatalf("accepted %T, want a *paceWatch", sc)
	}
	// 80 KiB in all: the client does not read, and the socket buffers
	// hold it.
	buf := make([]byte, 4<<10)
	for range 20 {
		if _, err := sc.Write(buf); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	w.mu.Lock()
	pending := w.timer.Stop()
	w.mu.Unlock()
	if pending {
		t.Error("the watch still samples a loopback connection")
	}
	if maxPacing, _, _, _ := bbrState(t, w.TCPConn); maxPacing != noPacingCap {
		t.Errorf("loopback connection capped at %d B/s", maxPacing)
	}
}
