package rtpdtest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"testing"
)

// FreePort returns a loopback port free for both TCP and UDP a moment ago,
// for servers that must come back on the same port or that cannot be told
// to pick one themselves.
//
// The port is drawn below the kernel's ephemeral range, so no other socket
// on the machine, a listener on port 0 or an outgoing connection, can be
// given it between this check and the server's bind. Only another FreePort
// drawing the same number at the same moment could, which is rare enough
// among ~20,000 ports. Prefer port 0 and the bound address from the
// server's log where the test can.
func FreePort(t *testing.T) int {
	t.Helper()
	lo, hi := 10000, ephemeralLow()
	if hi-lo < 1000 {
		lo, hi = 1024, 65536 // an odd range: draw from everything
	}
	for range 100 {
		p := lo + rand.IntN(hi-lo)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		l.Close()
		u, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
		if err == nil {
			u.Close()
			return p
		}
	}
	t.Fatal("no free port")
	return 0
}

// ephemeralLow is the first port of the range the kernel hands out on its
// own, 32768 when it cannot be read.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	var lo, hi int
	if _, err := fmt.Sscan(string(b), &lo, &hi); err != nil || lo < 1024 {
		return 32768
	}
	return lo
}
