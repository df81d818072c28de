package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
)

// Values of TCPOptions.Congestion with a meaning of their own.
const (
	// CongestionAuto picks bbr when the kernel lets this process use it, and
	// leaves the kernel's default otherwise.
	CongestionAuto = "auto"
	// CongestionKernel leaves the kernel's default.
	CongestionKernel = "kernel"
	// CongestionAdaptive starts each connection on cubic and moves it to
	// bbr once it sees random loss (lossWatch). It needs both.
	CongestionAdaptive = "adaptive"
)

// DefaultTCPSendBuffer is the send buffer a TCP connection may grow to: room
// for 200 Mbit/s over a 300 ms RTT (7.5 MB in flight) with a full router
// queue and the data sent again during loss recovery.
const DefaultTCPSendBuffer = 32 << 20

// DefaultTCPNotSentLowat bounds the bytes written to a TCP socket and not yet
// sent, so a large send buffer holds what is in flight, not a queue.
const DefaultTCPNotSentLowat = 1 << 20

// ErrCongestion is returned for a congestion control algorithm the kernel
// does not offer this process.
var ErrCongestion = errors.New("tcp congestion control unavailable")

// TCPOptions are the socket options Listen sets on its TCP listeners and
// the connections they accept (tcp and tls alike).
type TCPOptions struct {
	// Congestion names the congestion control algorithm (TCP_CONGESTION):
	// "bbr", "cubic", "reno" or any the kernel offers. An unprivileged
	// process may use only those in net.ipv4.tcp_allowed_congestion_control;
	// one with CAP_NET_ADMIN any in tcp_available_congestion_control. Empty
	// means CongestionAuto.
	Congestion string
	// SendBuffer is the send buffer wanted, in the kernel's accounting (the
	// unit of net.ipv4.tcp_wmem, which counts packet overhead too). When the
	// kernel's autotuning may grow that far (tcp_wmem's maximum), the socket
	// is left to autotune; otherwise the buffer is fixed with SO_SNDBUFFORCE,
	// or, without CAP_NET_ADMIN, SO_SNDBUF, which the kernel caps at twice
	// net.core.wmem_max. Zero means DefaultTCPSendBuffer; negative leaves
	// the kernel's autotuning whatever its limit.
	SendBuffer int
	// NotSentLowat is TCP_NOTSENT_LOWAT: a write waits while this many bytes
	// are queued and not yet sent. Zero means DefaultTCPNotSentLowat;
	// negative leaves the kernel's setting (net.ipv4.tcp_notsent_lowat).
	NotSentLowat int
}

// TCPReport says what TCPOptions became on this host.
type TCPReport struct {
	Congestion        string // the algorithm accepted connections use
	KernelCongestion  string // the kernel's default
	SendBuffer        int    // the send buffer's limit in bytes
	SendBufferMethod  string // "autotuning", "SO_SNDBUFFORCE" or "SO_SNDBUF"
	SendBufferWanted  int    // TCPOptions.SendBuffer with its default, or 0
	NotSentLowat      int    // 0: the kernel's setting
	SendBufferSysctls string // what to raise when SendBuffer < SendBufferWanted

	// What Listen sets on its sockets: a congestion control name (empty:
	// none), SO_SNDBUF or SO_SNDBUFFORCE (0: neither) and its value.
	setCongestion string
	sndbufOpt     int
	sndbufVal     int
	// onRandomLoss, when set, is the algorithm a connection moves to once
	// it has seen random loss (see lossWatch).
	onRandomLoss string
}

// Short reports whether the send buffer is below the one wanted.
func (r TCPReport) Short() bool { return r.SendBuffer < r.SendBufferWanted }

// Attrs are r as slog key-value pairs.
func (r TCPReport) Attrs() []any {
	a := []any{
		"tcp_congestion", r.Congestion, "on_random_loss", r.onRandomLoss, "kernel_default", r.KernelCongestion,
		"send_buffer", r.SendBuffer, "send_buffer_by", r.SendBufferMethod,
		"notsent_lowat", r.NotSentLowat,
	}
	if r.Short() {
		a = append(a, "wanted", r.SendBufferWanted, "raise", r.SendBufferSysctls)
	}
	return a
}

func (r TCPReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "tcp: congestion control %s", r.Congestion)
	if r.onRandomLoss != "" {
		fmt.Fprintf(&b, ", %s once a connection sees random loss", r.onRandomLoss)
	}
	fmt.Fprintf(&b, " (kernel default %s), send buffer %s by %s",
		r.KernelCongestion, mib(r.SendBuffer), r.SendBufferMethod)
	if r.NotSentLowat > 0 {
		fmt.Fprintf(&b, ", not-sent low-water mark %s", mib(r.NotSentLowat))
	}
	if r.Short() {
		fmt.Fprintf(&b, "; below the %s wanted for long fast links: %s", mib(r.SendBufferWanted), r.SendBufferSysctls)
	}
	return b.String()
}

func mib(n int) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

// tcpResolved caches Resolve for a server's listeners.
type tcpResolved struct {
	once sync.Once
	rep  TCPReport
	err  error
}

func (s *Server) tcpReport() (TCPReport, error) {
	s.tcp.once.Do(func() { s.tcp.rep, s.tcp.err = s.cfg.TCP.Resolve() })
	return s.tcp.rep, s.tcp.err
}

// acceptListener sets on the connections it accepts what they may not
// inherit from the listening socket (TCPReport.setAccepted).
type acceptListener struct {
	net.Listener
	rep   TCPReport
	log   *slog.Logger
	hosts *lossyHosts // shared by the server's listeners
}

func (l *acceptListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		if rc, err := tc.SyscallConn(); err == nil {
			err = l.rep.setAccepted(rc)
			if err != nil {
				l.log.Debug("tcp socket option not set", "remote", c.RemoteAddr(), "err", err)
			}
			switch {
			case err == nil && l.rep.onRandomLoss != "":
				return newLossWatch(tc, rc, l.rep.onRandomLoss, l.log, l.hosts), nil
			case err == nil && l.rep.setCongestion == "bbr":
				return newPaceWatch(tc, rc, l.log), nil
			}
		}
	}
	return c, nil
}
