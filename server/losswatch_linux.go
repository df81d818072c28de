package server

import (
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// lossWatch is an accepted TCP connection that starts with a loss-based
// congestion control (cubic) and moves to another (bbr) for good once it
// sees random loss: packets sent again while the round trip stayed near
// its minimum, so no queue was full to drop them.
//
// Neither algorithm is right on every path. Cubic halves its window at
// every loss, which caps it near MSS / (RTT * sqrt(loss)) on a link with
// random loss: at 300 ms and 2%, well under 1 Mbit/s. Linux's bbr ignores
// loss, so several bbr flows into a router queue shorter than the
// bandwidth-delay product keep it full and lose a quarter of what they
// send (measured at 300 ms, 200 Mbit/s, a 100 ms queue: 115,000-170,000
// of some 520,000 packets dropped, against 3,000-5,000 for cubic). The
// round trip tells the two kinds of loss apart: a queue that overflows is
// full first, and the smoothed RTT shows it; random loss comes at any RTT.
type lossWatch struct {
	*net.TCPConn
	rc    syscall.RawConn
	to    string
	log   *slog.Logger
	hosts *lossyHosts

	mu     sync.Mutex
	w      lossWindow
	segs   uint32      // segments sent, at the last sample
	timer  *time.Timer // the next sample; not reset once moved
	closed bool
}

// idleSample is the time between samples of a connection that sent
// nothing since the last.
const idleSample = time.Second

// newLossWatch watches c, unless its host is known to hosts as lossy: then
// c moves to the algorithm for random loss at once.
func newLossWatch(c *net.TCPConn, rc syscall.RawConn, to string, log *slog.Logger, hosts *lossyHosts) net.Conn {
	if hosts.lossy(hostOf(c.RemoteAddr()), time.Now()) {
		err := setCongestion(rc, to)
		log.Debug("tcp: host known to lose packets at random; congestion control set", "remote", c.RemoteAddr(), "to", to, "err", err)
		return c
	}
	w := &lossWatch{TCPConn: c, rc: rc, to: to, log: log, hosts: hosts}
	w.mu.Lock()
	w.timer = time.AfterFunc(50*time.Millisecond, w.sample)
	w.mu.Unlock()
	return w
}

func (c *lossWatch) Close() error {
	c.mu.Lock()
	c.closed = true
	c.timer.Stop()
	c.mu.Unlock()
	return c.TCPConn.Close()
}

// sample reads the connection's TCP_INFO, moves it to c.to when lossWindow
// says so, and else comes again in a round trip (50 ms at least), or in a
// second while the connection sends nothing.
func (c *lossWatch) sample() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	var info *unix.TCPInfo
	var err error
	if cerr := c.rc.Control(func(fd uintptr) {
		info, err = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}); cerr != nil || err != nil {
		return // closed under us: stop looking
	}
	next := idleSample
	if info.Data_segs_out != c.segs {
		c.segs = info.Data_segs_out
		s := tcpSample{retrans: info.Total_retrans, rtt: info.Rtt, minRTT: info.Min_rtt, rtos: uint32(info.Total_rto)}
		if c.w.add(s) {
			c.move(s)
			return
		}
		next = max(50*time.Millisecond, time.Duration(s.minRTT)*time.Microsecond)
	}
	c.timer.Reset(next)
}

func (c *lossWatch) move(s tcpSample) {
	err := setCongestion(c.rc, c.to)
	c.hosts.mark(hostOf(c.RemoteAddr()), time.Now())
	c.log.Debug("tcp: random loss; congestion control moved", "remote", c.RemoteAddr(), "to", c.to,
		"retransmitted", s.retrans, "rtt_us", s.rtt, "min_rtt_us", s.minRTT, "err", err)
}

// setCongestion sets the congestion control of the socket rc to name.
func setCongestion(rc syscall.RawConn, name string) error {
	var err error
	if cerr := rc.Control(func(fd uintptr) {
		err = unix.SetsockoptString(int(fd), unix.IPPROTO_TCP, unix.TCP_CONGESTION, name)
	}); cerr != nil {
		err = cerr
	}
	return err
}
