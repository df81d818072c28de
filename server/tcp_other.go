//go:build !linux

package server

import (
	"fmt"
	"log/slog"
	"net"
	"syscall"
)

// Resolve finds what o becomes on this host. Outside Linux rtpd leaves TCP
// sockets to the kernel: naming a congestion control algorithm is an error.
func (o TCPOptions) Resolve() (TCPReport, error) {
	switch o.Congestion {
	case "", CongestionAuto, CongestionKernel:
	default:
		return TCPReport{}, fmt.Errorf("%w: %q: rtpd sets congestion control on Linux only", ErrCongestion, o.Congestion)
	}
	return TCPReport{Congestion: "kernel", KernelCongestion: "kernel", SendBufferMethod: "the kernel"}, nil
}

func (r TCPReport) control(_, _ string, _ syscall.RawConn) error { return nil }

func (r TCPReport) setAccepted(_ syscall.RawConn) error { return nil }

func newLossWatch(c *net.TCPConn, _ syscall.RawConn, _ string, _ *slog.Logger, _ *lossyHosts) net.Conn {
	return c
}

func newPaceWatch(c *net.TCPConn, _ syscall.RawConn, _ *slog.Logger) net.Conn { return c }
