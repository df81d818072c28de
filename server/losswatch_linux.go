package server

import (
	"log/slog"
	"net"
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
	tcpWatch
	to    string
	log   *slog.Logger
	hosts *lossyHosts
	w     lossWindow // under tcpWatch.mu
}

// newLossWatch watches c, unless its host is known to hosts as lossy: then
// c moves to the algorithm for random loss at once.
func newLossWatch(c *net.TCPConn, rc syscall.RawConn, to string, log *slog.Logger, hosts *lossyHosts) net.Conn {
	if hosts.lossy(hostOf(c.RemoteAddr()), time.Now()) {
		err := setCongestion(rc, to)
		log.Debug("tcp: host known to lose packets at random; congestion control set", "remote", c.RemoteAddr(), "to", to, "err", err)
		return c
	}
	w := &lossWatch{tcpWatch: tcpWatch{TCPConn: c, rc: rc}, to: to, log: log, hosts: hosts}
	w.tcpWatch.sample = w.sample
	w.start()
	return w
}

// sample moves the connection to c.to, and stops, when lossWindow says so.
func (c *lossWatch) sample(_ int, info *unix.TCPInfo) bool {
	s := tcpSample{retrans: info.Total_retrans, rtt: info.Rtt, minRTT: info.Min_rtt, rtos: uint32(info.Total_rto)}
	if !c.w.add(s) {
		return false
	}
	c.move(s)
	return true
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
