package server

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Resolve finds what o becomes on this host by setting it on a probe socket
// and reading it back. It fails, wrapping ErrCongestion, when o names a
// congestion control algorithm this process may not use.
func (o TCPOptions) Resolve() (TCPReport, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		fd, err = unix.Socket(unix.AF_INET6, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	}
	if err != nil {
		return TCPReport{}, fmt.Errorf("tcp probe socket: %w", err)
	}
	defer unix.Close(fd)
	var r TCPReport
	if r.KernelCongestion, err = unix.GetsockoptString(fd, unix.IPPROTO_TCP, unix.TCP_CONGESTION); err != nil {
		return TCPReport{}, fmt.Errorf("tcp congestion control: %w", err)
	}
	r.Congestion = r.KernelCongestion
	switch name := o.Congestion; name {
	case CongestionKernel:
	case "", CongestionAuto:
		if unix.SetsockoptString(fd, unix.IPPROTO_TCP, unix.TCP_CONGESTION, "bbr") == nil {
			r.Congestion, r.setCongestion = "bbr", "bbr"
		}
	case CongestionAdaptive:
		for _, name := range []string{"bbr", "cubic"} {
			if err := unix.SetsockoptString(fd, unix.IPPROTO_TCP, unix.TCP_CONGESTION, name); err != nil {
				return TCPReport{}, congestionError(name, err)
			}
		}
		r.Congestion, r.setCongestion, r.onRandomLoss = "cubic", "cubic", "bbr"
	default:
		if err := unix.SetsockoptString(fd, unix.IPPROTO_TCP, unix.TCP_CONGESTION, name); err != nil {
			return TCPReport{}, congestionError(name, err)
		}
		r.Congestion, r.setCongestion = name, name
	}

	wmem := sysctlInts("net/ipv4/tcp_wmem")
	autoMax := 0
	if len(wmem) == 3 {
		autoMax = wmem[2]
	}
	r.SendBuffer, r.SendBufferMethod = autoMax, "autotuning"
	if o.SendBuffer >= 0 {
		r.SendBufferWanted = o.SendBuffer
		if r.SendBufferWanted == 0 {
			r.SendBufferWanted = DefaultTCPSendBuffer
		}
	}
	if want := r.SendBufferWanted; want > autoMax {
		// SO_SNDBUF's value is doubled by the kernel to make room for
		// packet overhead; tcp_wmem's is not.
		opt, name := unix.SO_SNDBUFFORCE, "SO_SNDBUFFORCE"
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, opt, want/2) != nil {
			opt, name = unix.SO_SNDBUF, "SO_SNDBUF"
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, opt, want/2); err != nil {
				return TCPReport{}, fmt.Errorf("tcp send buffer: %w", err)
			}
		}
		got, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF)
		if err != nil {
			return TCPReport{}, fmt.Errorf("tcp send buffer: %w", err)
		}
		if got > autoMax {
			r.SendBuffer, r.SendBufferMethod = got, name
			r.sndbufOpt, r.sndbufVal = opt, want/2
		}
		if r.Short() {
			r.SendBufferSysctls = fmt.Sprintf("raise net.ipv4.tcp_wmem's maximum to %d (autotuned), or net.core.wmem_max to %d, or give rtpd CAP_NET_ADMIN", want, want/2)
		}
	}

	if o.NotSentLowat >= 0 {
		r.NotSentLowat = o.NotSentLowat
		if r.NotSentLowat == 0 {
			r.NotSentLowat = DefaultTCPNotSentLowat
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, r.NotSentLowat); err != nil {
			return TCPReport{}, fmt.Errorf("tcp not-sent low-water mark: %w", err)
		}
	}
	return r, nil
}

// control sets r's congestion control and send buffer on a listening
// socket, whose accepted connections inherit them.
func (r TCPReport) control(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		f := int(fd)
		if r.setCongestion != "" {
			if err := unix.SetsockoptString(f, unix.IPPROTO_TCP, unix.TCP_CONGESTION, r.setCongestion); err != nil {
				serr = congestionError(r.setCongestion, err)
				return
			}
		}
		if r.sndbufOpt != 0 {
			if err := unix.SetsockoptInt(f, unix.SOL_SOCKET, r.sndbufOpt, r.sndbufVal); err != nil {
				serr = fmt.Errorf("tcp send buffer: %w", err)
				return
			}
		}
	})
	if err != nil {
		return err
	}
	return serr
}

// setAccepted sets on an accepted connection what it does not inherit from
// the listening socket: TCP_NOTSENT_LOWAT, and the congestion control again,
// since a route's congctl replaces the listener's in every connection
// accepted over that route (unless the route locks it).
func (r TCPReport) setAccepted(c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		if r.setCongestion != "" {
			if err := unix.SetsockoptString(int(fd), unix.IPPROTO_TCP, unix.TCP_CONGESTION, r.setCongestion); err != nil {
				serr = fmt.Errorf("tcp congestion control %s: %w", r.setCongestion, err)
			}
		}
		if r.NotSentLowat > 0 {
			if err := unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, r.NotSentLowat); err != nil && serr == nil {
				serr = fmt.Errorf("tcp not-sent low-water mark: %w", err)
			}
		}
	})
	if err != nil {
		return err
	}
	return serr
}

func congestionError(name string, err error) error {
	switch {
	case errors.Is(err, unix.ENOENT):
		return fmt.Errorf("%w: %q is not in this kernel, which offers %s (net.ipv4.tcp_available_congestion_control); rtpd also takes %s, %s and %s",
			ErrCongestion, name, sysctlString("net/ipv4/tcp_available_congestion_control"), CongestionAuto, CongestionAdaptive, CongestionKernel)
	case errors.Is(err, unix.EPERM):
		return fmt.Errorf("%w: %q needs CAP_NET_ADMIN; without it rtpd may use %s (net.ipv4.tcp_allowed_congestion_control)",
			ErrCongestion, name, sysctlString("net/ipv4/tcp_allowed_congestion_control"))
	}
	return fmt.Errorf("%w: %q: %v", ErrCongestion, name, err)
}

// sysctlString reads /proc/sys/NAME, as the process's network namespace
// sees it.
func sysctlString(name string) string {
	b, err := os.ReadFile("/proc/sys/" + name)
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b)), " ")
}

func sysctlInts(name string) []int {
	var v []int
	for _, f := range strings.Fields(sysctlString(name)) {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil
		}
		v = append(v, n)
	}
	return v
}
