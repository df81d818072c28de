package wan

// These tests are the emulator's self-check as a measurement instrument:
// they assert that the delay, loss and rate it applies are the ones asked
// for, within tolerances stated at each assertion and derived from its
// measured precision (README.md), or with bounds that fail by chance with
// probability below 1e-6. They need root, /dev/net/tun and ip(8), and skip
// otherwise; each makes its own namespaces, named "wan" and random hex
// digits, and removes them.

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"testing"
	"time"
)

func needRoot(t *testing.T) {
	t.Helper()
	if err := Usable(); err != nil {
		t.Skip(err)
	}
}

// namespaces makes two namespaces removed at the end of the test.
func namespaces(t *testing.T) (string, string) {
	t.Helper()
	var names [2]string
	for i := range names {
		n, err := NewNamespace("wan")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := DeleteNamespace(n); err != nil {
				t.Error(err)
			}
		})
		names[i] = n
	}
	return names[0], names[1]
}

var (
	addrA = netip.MustParsePrefix("10.88.1.1/24")
	addrB = netip.MustParsePrefix("10.88.1.2/24")
)

// start makes two namespaces and a link between them, closed at the end of
// the test.
func start(t *testing.T, atob, btoa Dir) (*Link, string, string) {
	t.Helper()
	a, b := namespaces(t)
	l, err := Start(Config{NameA: a, NameB: b, AddrA: addrA, AddrB: addrB, AtoB: atob, BtoA: btoa})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil && !errors.Is(err, ErrClosed) {
			t.Error(err)
		}
	})
	return l, a, b
}

// udpPair returns a UDP socket in namespace b that echoes every datagram
// back, and one in a connected to it.
func udpPair(t *testing.T, a, b string, echo bool) (client *net.UDPConn, server *net.UDPConn) {
	t.Helper()
	err := InNamespace(b, func() (err error) {
		server, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addrB.Addr(), 0)))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	err = InNamespace(a, func() (err error) {
		client, err = net.DialUDP("udp", nil, server.LocalAddr().(*net.UDPAddr))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	if echo {
		go func() {
			buf := make([]byte, 2048)
			for {
				n, from, err := server.ReadFromUDPAddrPort(buf)
				if err != nil {
					return
				}
				server.WriteToUDPAddrPort(buf[:n], from)
			}
		}()
	}
	return client, server
}

// pings sends n probes one after the other, each when the last came back,
// and returns the round-trip times. A probe not back within a second fails
// the test.
func pings(t *testing.T, c *net.UDPConn, n int) []time.Duration {
	t.Helper()
	var rtts []time.Duration
	buf := make([]byte, 64)
	for i := range n {
		var req [8]byte
		binary.BigEndian.PutUint64(req[:], uint64(i))
		sent := time.Now()
		if _, err := c.Write(req[:]); err != nil {
			t.Fatal(err)
		}
		for {
			c.SetReadDeadline(time.Now().Add(time.Second))
			k, err := c.Read(buf)
			if err != nil {
				t.Fatalf("probe %d: %v", i, err)
			}
			if k == 8 && binary.BigEndian.Uint64(buf) == uint64(i) {
				break
			}
		}
		rtts = append(rtts, time.Since(sent))
	}
	return rtts
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// TestRTT: with 15 + 25 ms one-way delays a probe comes back after 40 ms:
// never earlier (the emulator releases a packet at most 20 µs early per
// direction), and with a median at most 2 ms late, which covers the
// thread wake-up latency measured on a loaded 2-core VM (README.md).
func TestRTT(t *testing.T) {
	needRoot(t)
	_, a, b := start(t, Dir{Delay: 15 * time.Millisecond}, Dir{Delay: 25 * time.Millisecond})
	c, _ := udpPair(t, a, b, true)
	rtts := pings(t, c, 40)
	want := 40 * time.Millisecond
	lo, med := slices.Min(rtts), median(rtts)
	t.Logf("RTT want %v: min %v median %v max %v", want, lo, med, slices.Max(rtts))
	if lo < want-50*time.Microsecond {
		t.Errorf("a probe came back after %v, before the %v configured", lo, want)
	}
	if med > want+2*time.Millisecond {
		t.Errorf("median RTT %v, more than 2 ms over the %v configured", med, want)
	}
}

// TestClose: Close deletes both devices, ends every goroutine of the link,
// and says so when called twice.
func TestClose(t *testing.T) {
	needRoot(t)
	a, b := namespaces(t)
	before := countGoroutines()
	l, err := Start(Config{NameA: a, NameB: b, AddrA: addrA, AddrB: addrB})
	if err != nil {
		t.Fatal(err)
	}
	for _, nd := range [][2]string{{a, l.DevA}, {b, l.DevB}} {
		if out, err := exec.Command("ip", "-n", nd[0], "link", "show", "dev", nd[1]).CombinedOutput(); err != nil {
			t.Fatalf("device %s not in %s after Start: %v %s", nd[1], nd[0], err, out)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close: %v, want ErrClosed", err)
	}
	for _, nd := range [][2]string{{a, l.DevA}, {b, l.DevB}, {"", l.DevA}, {"", l.DevB}} {
		args := []string{"link", "show", "dev", nd[1]}
		if nd[0] != "" {
			args = append([]string{"-n", nd[0]}, args...)
		}
		if exec.Command("ip", args...).Run() == nil {
			t.Errorf("device %s still there after Close (ip %v)", nd[1], args)
		}
	}
	if n := countGoroutines(); n > before {
		t.Errorf("%d goroutines after Close, %d before Start", n, before)
	}
}

// TestRate: one TCP stream through a 50 Mbit/s link with a 20 ms RTT and
// the default 100 ms queue. Over 2 s after the first second the link
// forwards 90-101% of 50 Mbit/s of IP bytes (the rate limiter's own
// count), the receiver reads 85-100% of it as payload (TCP/IP headers are
// 52 of 1500 bytes), and no packet larger than the MTU reaches the TUN
// device: the kernel segments TSO/GSO before a TUN without a vnet header.
func TestRate(t *testing.T) {
	needRoot(t)
	const rate = 50e6
	l, a, b := start(t, Dir{Delay: 10 * time.Millisecond, Rate: rate}, Dir{Delay: 10 * time.Millisecond, Rate: rate})
	r, err := Stream(t.Context(), l, a, b, addrB.Addr(), time.Second, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	st := l.Stats()
	t.Logf("wire %.2f Mbit/s, payload %.2f Mbit/s over %v; %+v", r.WireBps()/1e6, r.PayloadBps()/1e6, r.Window, st.AtoB)
	if w := r.WireBps() / rate; w < 0.90 || w > 1.01 {
		t.Errorf("link carried %.1f%% of its rate", 100*w)
	}
	if p := r.PayloadBps() / rate; p < 0.85 || p > 1 {
		t.Errorf("payload %.1f%% of the link rate", 100*p)
	}
	if st.AtoB.MaxPacket > 1500 {
		t.Errorf("a %d-byte packet reached the TUN device, over the 1500 MTU", st.AtoB.MaxPacket)
	}
}
