package server

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rtp-project/rtp/rtpurl"
)

// accepted listens with opts on loopback, connects, and returns the server's
// side of the connection, as Serve would get it from Accept, with the
// report Listen applied.
func accepted(t *testing.T, opts TCPOptions) (*net.TCPConn, TCPReport) {
	t.Helper()
	srv := New(Config{TCP: opts})
	sc := acceptFrom(t, listenLoopback(t, srv), "127.0.0.1")
	rep, err := srv.tcpReport()
	if err != nil {
		t.Fatal(err)
	}
	switch w := sc.(type) {
	case *lossWatch:
		return w.TCPConn, rep
	case *paceWatch:
		return w.TCPConn, rep
	}
	return sc.(*net.TCPConn), rep
}

// listenLoopback listens with srv on a TCP port of 127.0.0.1.
func listenLoopback(t *testing.T, srv *Server) *Listener {
	t.Helper()
	l, err := srv.Listen(rtpurl.Dial{Proto: rtpurl.TCP, Host: "127.0.0.1", Port: 0}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// acceptFrom connects to l from the address from and returns the server's
// side of the connection, as Serve would get it from Accept.
func acceptFrom(t *testing.T, l *Listener, from string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", l.Dial.Address())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	sc, err := l.tcp.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sc.Close() })
	return sc
}

func sockopt(t *testing.T, c *net.TCPConn, get func(fd int) (any, error)) any {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v any
	var gerr error
	if err := rc.Control(func(fd uintptr) { v, gerr = get(int(fd)) }); err != nil {
		t.Fatal(err)
	}
	if gerr != nil {
		t.Fatal(gerr)
	}
	return v
}

func congestionOf(t *testing.T, c *net.TCPConn) string {
	return sockopt(t, c, func(fd int) (any, error) {
		return unix.GetsockoptString(fd, unix.IPPROTO_TCP, unix.TCP_CONGESTION)
	}).(string)
}

func intOpt(t *testing.T, c *net.TCPConn, level, opt int) int {
	return sockopt(t, c, func(fd int) (any, error) { return unix.GetsockoptInt(fd, level, opt) }).(int)
}

func TestTCPCongestionOnAccepted(t *testing.T) {
	available := strings.Fields(sysctlString("net/ipv4/tcp_available_congestion_control"))
	kernel := func() string {
		c, _ := accepted(t, TCPOptions{Congestion: CongestionKernel})
		return congestionOf(t, c)
	}()
	for _, name := range []string{"reno", "cubic", "bbr"} {
		t.Run(name, func(t *testing.T) {
			rep, err := TCPOptions{Congestion: name}.Resolve()
			if err != nil {
				// Not in this kernel, or not allowed without CAP_NET_ADMIN:
				// the error says which.
				if !errors.Is(err, ErrCongestion) || !strings.Contains(err.Error(), "net.ipv4.tcp_a") {
					t.Fatalf("Resolve(%s): %v", name, err)
				}
				t.Skipf("%s: %v", name, err)
			}
			c, _ := accepted(t, TCPOptions{Congestion: name})
			if got := congestionOf(t, c); got != name || rep.Congestion != name {
				t.Errorf("asked %s: accepted connection uses %s, report says %s", name, got, rep.Congestion)
			}
		})
	}
	t.Run("auto", func(t *testing.T) {
		c, rep := accepted(t, TCPOptions{})
		got := congestionOf(t, c)
		want, then := kernel, ""
		if _, err := (TCPOptions{Congestion: "bbr"}).Resolve(); err == nil {
			want = "bbr"
		}
		if got != want || rep.Congestion != want || rep.onRandomLoss != then || rep.KernelCongestion != kernel {
			t.Errorf("auto: connection uses %s, report %s then %q (kernel %s), want %s then %q (kernel %s; available %v)",
				got, rep.Congestion, rep.onRandomLoss, rep.KernelCongestion, want, then, kernel, available)
		}
	})
}

func TestTCPCongestionUnknown(t *testing.T) {
	_, err := TCPOptions{Congestion: "no-such-cc"}.Resolve()
	if !errors.Is(err, ErrCongestion) || !strings.Contains(err.Error(), "no-such-cc") || !strings.Contains(err.Error(), "tcp_available_congestion_control") {
		t.Fatalf("Resolve(no-such-cc) = %v, want ErrCongestion naming it and what the kernel offers", err)
	}
	srv := New(Config{TCP: TCPOptions{Congestion: "no-such-cc"}})
	if l, err := srv.Listen(rtpurl.Dial{Proto: rtpurl.TCP, Host: "127.0.0.1"}, nil); !errors.Is(err, ErrCongestion) {
		if err == nil {
			l.Close()
		}
		t.Fatalf("Listen with no-such-cc: %v, want ErrCongestion", err)
	}
}

func TestTCPSendBufferOnAccepted(t *testing.T) {
	wmem := sysctlInts("net/ipv4/tcp_wmem")
	if len(wmem) != 3 {
		t.Fatalf("net.ipv4.tcp_wmem: %v", wmem)
	}
	autoMax := wmem[2]

	t.Run("above autotuning", func(t *testing.T) {
		want := 2 * autoMax
		c, rep := accepted(t, TCPOptions{SendBuffer: want})
		got := intOpt(t, c, unix.SOL_SOCKET, unix.SO_SNDBUF)
		if rep.SendBufferMethod == "autotuning" {
			// Neither option could pass the kernel's autotuning limit.
			if rep.SendBuffer != autoMax || !rep.Short() || rep.SendBufferSysctls == "" {
				t.Errorf("report %+v: want autotuning to %d with a hint", rep, autoMax)
			}
			return
		}
		if got != rep.SendBuffer || got <= autoMax {
			t.Errorf("accepted connection's SO_SNDBUF %d, report %+v, autotuning limit %d", got, rep, autoMax)
		}
		if rep.SendBufferMethod == "SO_SNDBUFFORCE" && (got != want || rep.Short()) {
			t.Errorf("SO_SNDBUFFORCE gave %d, want %d", got, want)
		}
	})
	t.Run("within autotuning", func(t *testing.T) {
		c, _ := accepted(t, TCPOptions{SendBuffer: -1})
		kernel := intOpt(t, c, unix.SOL_SOCKET, unix.SO_SNDBUF)
		want := autoMax / 4
		c, rep := accepted(t, TCPOptions{SendBuffer: want})
		got := intOpt(t, c, unix.SOL_SOCKET, unix.SO_SNDBUF)
		if rep.SendBufferMethod != "autotuning" || rep.SendBuffer != autoMax || rep.Short() {
			t.Errorf("report %+v, want autotuning to %d", rep, autoMax)
		}
		// Left to the kernel, the buffer starts where an untouched one does
		// (on loopback's large MSS, often at once at the limit), not at the
		// size asked.
		if got != kernel || got == want {
			t.Errorf("accepted connection's SO_SNDBUF %d, untouched %d, asked %d: fixed, not autotuned", got, kernel, want)
		}
	})
	t.Run("not-sent low-water mark", func(t *testing.T) {
		c, rep := accepted(t, TCPOptions{NotSentLowat: 300 << 10})
		if got := intOpt(t, c, unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT); got != 300<<10 || rep.NotSentLowat != 300<<10 {
			t.Errorf("TCP_NOTSENT_LOWAT %d, report %d, want %d", got, rep.NotSentLowat, 300<<10)
		}
		c, rep = accepted(t, TCPOptions{NotSentLowat: -1})
		kernel := sysctlInts("net/ipv4/tcp_notsent_lowat")
		if got := intOpt(t, c, unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT); len(kernel) != 1 || uint32(got) != uint32(kernel[0]) || rep.NotSentLowat != 0 {
			t.Errorf("TCP_NOTSENT_LOWAT %d with -1, want the kernel's %v", got, kernel)
		}
	})
}

// With adaptive, a connection from a host whose earlier connection showed
// random loss starts on bbr; one from another host is watched, on cubic.
func TestAdaptiveRemembersLossyHost(t *testing.T) {
	opts := TCPOptions{Congestion: CongestionAdaptive}
	if _, err := opts.Resolve(); err != nil {
		t.Skipf("adaptive: %v", err)
	}
	l := listenLoopback(t, New(Config{TCP: opts}))
	accept := func(from string) net.Conn { return acceptFrom(t, l, from) }
	first := accept("127.0.0.2")
	w, ok := first.(*lossWatch)
	if !ok {
		t.Fatalf("first connection is a %T, want a *lossWatch", first)
	}
	if got := congestionOf(t, w.TCPConn); got != "cubic" {
		t.Fatalf("first connection on %s, want cubic", got)
	}
	w.mu.Lock()
	w.move(tcpSample{})
	w.mu.Unlock()
	if got := congestionOf(t, w.TCPConn); got != "bbr" {
		t.Fatalf("moved connection on %s, want bbr", got)
	}

	again := accept("127.0.0.2")
	c, ok := again.(*net.TCPConn)
	if !ok {
		t.Fatalf("the lossy host's next connection is a %T, want a plain *net.TCPConn, not watched", again)
	}
	if got := congestionOf(t, c); got != "bbr" {
		t.Errorf("the lossy host's next connection starts on %s, want bbr", got)
	}
	other := accept("127.0.0.3")
	if w, ok := other.(*lossWatch); !ok || congestionOf(t, w.TCPConn) != "cubic" {
		t.Errorf("another host's connection: %T, want a *lossWatch on cubic", other)
	}
}

func TestLossyHostsForgetAndStayBounded(t *testing.T) {
	var h lossyHosts
	now := time.Now()
	h.mark("192.0.2.1", now)
	if !h.lossy("192.0.2.1", now.Add(lossyMemory-time.Second)) {
		t.Error("forgotten within lossyMemory")
	}
	if h.lossy("192.0.2.1", now.Add(lossyMemory+time.Second)) || len(h.until) != 0 {
		t.Errorf("still known after lossyMemory (%d kept)", len(h.until))
	}
	for i := range maxLossyHosts + 100 {
		h.mark(fmt.Sprintf("10.%d.%d.%d", i>>16, i>>8&255, i&255), now)
	}
	if len(h.until) > maxLossyHosts {
		t.Errorf("%d hosts kept, want at most %d", len(h.until), maxLossyHosts)
	}
	h.mark("192.0.2.9", now)
	if !h.lossy("192.0.2.9", now) {
		t.Error("the newest host was not kept at the bound")
	}
}
