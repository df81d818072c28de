package server

import (
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rtp-project/rtp/bench/wan"
	"github.com/rtp-project/rtp/rtpurl"
)

func TestLossWindow(t *testing.T) {
	const ms = 1000
	// at is a sample with r segments sent again, a round trip of rtt ms
	// and a least one of 20 ms.
	at := func(r, rtt uint32) tcpSample { return tcpSample{retrans: r, rtt: rtt * ms, minRTT: 20 * ms} }
	for _, c := range []struct {
		name    string
		samples []tcpSample
		moves   bool
	}{
		{"no loss", []tcpSample{at(0, 20), at(0, 21), at(0, 20), at(0, 20), at(0, 20)}, false},
		{"random loss in two samples", []tcpSample{at(0, 20), at(3, 21), at(3, 20), at(5, 22)}, true},
		{"random loss in one", []tcpSample{at(0, 20), at(3, 21), at(3, 20), at(3, 20), at(3, 20)}, true},
		// At 300 ms, a few milliseconds of queue are no full queue: the
		// loss that comes with them is random.
		{"a few ms of queue at 300 ms", []tcpSample{
			{0, 300 * ms, 300 * ms, 0}, {0, 304 * ms, 300 * ms, 0}, {0, 308 * ms, 300 * ms, 0}, {2, 306 * ms, 300 * ms, 0}}, true},
		{"a full queue at 300 ms", []tcpSample{
			{0, 300 * ms, 300 * ms, 0}, {0, 360 * ms, 300 * ms, 0}, {0, 400 * ms, 300 * ms, 0}, {2, 390 * ms, 300 * ms, 0}, {9, 310 * ms, 300 * ms, 0}}, false},
		// A 100 ms queue fills and overflows twice; the back-off drains
		// it, and the segments lost are sent again in the two samples
		// after the last that saw it near full.
		{"queue overflows", []tcpSample{
			at(0, 20), at(0, 70), at(0, 110), at(9, 120), at(14, 21), at(20, 20),
			at(20, 40), at(20, 80), at(20, 115), at(25, 60), at(31, 22), at(31, 20), at(31, 20)}, false},
		{"random loss after a queue drained", []tcpSample{
			at(0, 120), at(4, 120), at(4, 20), at(4, 20), at(5, 20), at(5, 21), at(9, 20)}, true},
		{"segments sent again after a timeout", []tcpSample{
			at(0, 20), {retrans: 1, rtt: 20 * ms, minRTT: 20 * ms, rtos: 1}, {retrans: 40, rtt: 20 * ms, minRTT: 20 * ms, rtos: 1},
			{retrans: 80, rtt: 20 * ms, minRTT: 20 * ms, rtos: 1}, {retrans: 80, rtt: 20 * ms, minRTT: 20 * ms, rtos: 1}}, false},
		{"random loss after a timeout", []tcpSample{
			at(0, 20), {retrans: 1, rtt: 20 * ms, minRTT: 20 * ms, rtos: 1}, {retrans: 40, rtt: 20 * ms, minRTT: 20 * ms, rtos: 1},
			{retrans: 40, rtt: 20 * ms, minRTT: 20 * ms, rtos: 1}, {retrans: 40, rtt: 20 * ms, minRTT: 20 * ms, rtos: 1},
			{retrans: 41, rtt: 20 * ms, minRTT: 20 * ms, rtos: 1}, {retrans: 42, rtt: 20 * ms, minRTT: 20 * ms, rtos: 1}}, true},
		{"a queue of 2 ms or less is none", []tcpSample{
			{0, 1 * ms, 500, 0}, {2, 2500, 500, 0}, {4, 2 * ms, 500, 0}}, true},
		{"no round trip measured yet", []tcpSample{{0, 0, 0, 0}, {2, 0, 0, 0}, {4, 0, 0, 0}, {6, 0, 0, 0}, {8, 0, 0, 0}}, false},
	} {
		var w lossWindow
		moved := false
		for _, s := range c.samples {
			moved = w.add(s) || moved
		}
		if moved != c.moves {
			t.Errorf("%s: moved %v, want %v", c.name, moved, c.moves)
		}
	}
}

// TestLossWatchOnEmulatedLinks sends bulk data from an rtpd listener
// (congestion control adaptive) across a link emulated in two network
// namespaces. With random loss the connection moves from cubic to bbr;
// through a 100 ms queue that overflows, with no random loss, it loses
// packets and stays on cubic. (Through a queue shorter than the bursts
// the sender's segmentation offload makes, 64 KB at 50 Mbit/s, a loss can
// come with the queue far from full on average, and the connection may
// move: bbr is then the better choice anyway.)
func TestLossWatchOnEmulatedLinks(t *testing.T) {
	if err := wan.Usable(); err != nil {
		t.Skip(err)
	}
	if _, err := (TCPOptions{Congestion: CongestionAdaptive}).Resolve(); err != nil {
		t.Skipf("adaptive: %v", err)
	}
	link := func(loss float64, queue int) wan.Dir {
		return wan.Dir{Delay: 10 * time.Millisecond, Loss: loss, Rate: 50e6, Queue: queue}
	}
	for _, c := range []struct {
		name  string
		down  wan.Dir // server to client
		bytes int64
		want  string
	}{
		{"2% random loss", link(0.02, 0), 64 << 20, "bbr"},
		{"0.5% random loss", link(0.005, 0), 64 << 20, "bbr"},
		{"a 100 ms queue, no loss", link(0, 0), 40 << 20, "cubic"},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, retrans := sendAcross(t, c.down, link(0, 0), c.bytes, c.want == "bbr")
			if got := congestionOf(t, conn); got != c.want {
				t.Errorf("congestion control %s after %d segments sent again, want %s", got, retrans, c.want)
			}
			if retrans == 0 {
				t.Errorf("no segment sent again: the link lost nothing, so the test shows nothing")
			}
			t.Logf("%s: %d segments sent again", congestionOf(t, conn), retrans)
		})
	}
}

// sendAcross makes two namespaces joined by an emulated link, listens as
// Listen does in the first, connects from the second, and writes n bytes
// from the accepted connection, which the other end discards; with
// untilMoved it stops as soon as the connection uses bbr. It returns the
// server's connection and its retransmitted segments.
func sendAcross(t *testing.T, down, up wan.Dir, n int64, untilMoved bool) (*net.TCPConn, uint32) {
	t.Helper()
	sc := acrossLink(t, down, up, TCPOptions{Congestion: CongestionAdaptive})
	w, ok := sc.(*lossWatch)
	if !ok {
		t.Fatalf("accepted %T, want a *lossWatch", sc)
	}
	buf := make([]byte, 256<<10)
	deadline := time.Now().Add(30 * time.Second)
	sc.SetWriteDeadline(deadline)
	for sent := int64(0); sent < n && time.Now().Before(deadline); sent += int64(len(buf)) {
		if _, err := sc.Write(buf); err != nil {
			t.Fatalf("after %d bytes: %v", sent, err)
		}
		if untilMoved && congestionOf(t, w.TCPConn) == "bbr" {
			break
		}
	}
	info := sockopt(t, w.TCPConn, func(fd int) (any, error) { return unixTCPInfo(fd) })
	return w.TCPConn, info.(uint32)
}

func unixTCPInfo(fd int) (uint32, error) {
	info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
	if err != nil {
		return 0, err
	}
	return info.Total_retrans, nil
}

// acrossLink makes two namespaces joined by an emulated link (down from
// the first to the second), listens as Listen does with opts in the
// first, connects from the second, and returns the accepted connection;
// the other end discards what it reads.
func acrossLink(t *testing.T, down, up wan.Dir, opts TCPOptions) net.Conn {
	t.Helper()
	var ns [2]string
	for i := range ns {
		name, err := wan.NewNamespace("rtpd")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { wan.DeleteNamespace(name) })
		ns[i] = name
	}
	srvAddr, cliAddr := netip.MustParsePrefix("10.89.1.1/24"), netip.MustParsePrefix("10.89.1.2/24")
	l, err := wan.Start(wan.Config{NameA: ns[0], NameB: ns[1], AddrA: srvAddr, AddrB: cliAddr, AtoB: down, BtoA: up})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })

	srv := New(Config{TCP: opts})
	var ln *Listener
	if err := wan.InNamespace(ns[0], func() (err error) {
		ln, err = srv.Listen(rtpurl.Dial{Proto: rtpurl.TCP, Host: srvAddr.Addr().String(), Port: 0}, nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var cc net.Conn
	if err := wan.InNamespace(ns[1], func() (err error) {
		cc, err = net.DialTimeout("tcp", ln.Dial.Address(), 5*time.Second)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	go io.Copy(io.Discard, cc)
	sc, err := ln.tcp.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sc.Close() })
	return sc
}
