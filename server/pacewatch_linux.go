package server

import (
	"log/slog"
	"net"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// paceWatch is an accepted TCP connection on bbr whose pacing is capped
// when bbr stays in start-up (startupCap). It stops watching a path
// shorter than lanRTT, where a router queue holds many bandwidth-delay
// products, and a connection no longer on bbr.
type paceWatch struct {
	tcpWatch
	log *slog.Logger
	cap startupCap // under tcpWatch.mu
}

// lanRTT: below this round trip a connection is left alone.
const lanRTT = 5 * time.Millisecond

func newPaceWatch(c *net.TCPConn, rc syscall.RawConn, log *slog.Logger) net.Conn {
	w := &paceWatch{tcpWatch: tcpWatch{TCPConn: c, rc: rc}, log: log}
	w.tcpWatch.sample = w.sample
	w.start()
	return w
}

func (c *paceWatch) sample(fd int, info *unix.TCPInfo) bool {
	var bbr unix.TCPBBRInfo
	if getBBRInfo(fd, &bbr) != nil || info.Min_rtt > 0 && time.Duration(info.Min_rtt)*time.Microsecond < lanRTT {
		return true
	}
	bw := uint64(bbr.Bw_hi)<<32 | uint64(bbr.Bw_lo)
	if v, ok := c.cap.add(bbr.Pacing_gain, bbr.Cwnd_gain, bw); ok {
		err := unix.SetsockoptUint64(fd, unix.SOL_SOCKET, unix.SO_MAX_PACING_RATE, v)
		c.log.Debug("tcp: bbr start-up pacing cap", "remote", c.RemoteAddr(), "bytes_per_s", v, "bw", bw, "gain", bbr.Pacing_gain, "err", err)
	}
	return false
}

// getBBRInfo reads TCP_CC_INFO, which bbr fills with its tcp_bbr_info; a
// connection on another algorithm gives another size or none.
func getBBRInfo(fd int, bbr *unix.TCPBBRInfo) error {
	n := uint32(unsafe.Sizeof(*bbr))
	_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.IPPROTO_TCP, unix.TCP_CC_INFO,
		uintptr(unsafe.Pointer(bbr)), uintptr(unsafe.Pointer(&n)), 0)
	if e != 0 {
		return e
	}
	if n != uint32(unsafe.Sizeof(*bbr)) {
		return unix.EINVAL
	}
	return nil
}
