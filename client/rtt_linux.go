package client

import (
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// tcpMinRTT returns the kernel's least round trip on c (from the handshake
// on), or 0.
func tcpMinRTT(c *net.TCPConn) time.Duration {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0
	}
	var info *unix.TCPInfo
	raw.Control(func(fd uintptr) {
		info, err = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	})
	if err != nil || info == nil {
		return 0
	}
	us := info.Min_rtt
	if us == 0 || us == ^uint32(0) {
		us = info.Rtt
	}
	return time.Duration(us) * time.Microsecond
}
