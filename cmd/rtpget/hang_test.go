package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rtp-project/rtp/internal/rtpdtest"
	"github.com/rtp-project/rtp/rtpurl"
)

// silentTCP accepts connections and never writes a byte to them (nor reads
// one): a server that hangs after accept, or a TLS server that never
// answers the ClientHello. Everything is closed when the test ends.
func silentTCP(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().(*net.TCPAddr).Port
}

// silentUDP is a UDP socket that reads every datagram and answers none: a
// QUIC server whose handshake never starts.
func silentUDP(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		buf := make([]byte, 64<<10)
		for {
			if _, _, err := c.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { c.Close() })
	return c.LocalAddr().(*net.UDPAddr).Port
}

// A server that accepts and never answers (TCP: no OPEN reply; TLS: no
// handshake; QUIC: no handshake) costs a stall timeout per try, and the
// retry budget (RTPGET_RETRY_FOR) then drops it: rtpget exits 1 saying so,
// instead of hanging.
func TestSilentServerExits1(t *testing.T) {
	tcpPort, udpPort := silentTCP(t), silentUDP(t)
	_, u := writeRandom(t, t.TempDir(), "s.bin", 1<<20)
	for _, proto := range []string{rtpurl.TCP, rtpurl.TLS, rtpurl.QUIC} {
		t.Run(proto, func(t *testing.T) {
			port := tcpPort
			if proto == rtpurl.QUIC {
				port = udpPort
			}
			c := *u
			c.Servers = []rtpurl.Dial{{Proto: proto, Host: "127.0.0.1", Port: port}}
			out := filepath.Join(t.TempDir(), "s.bin")
			// Far beyond stall + retry budget + backoff (about 5 s); a
			// hang is what this bound catches.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, rtpdtest.RTPGet, "-q", "-k", "--stall", "2s", "-o", out, c.String())
			cmd.Env = append(os.Environ(), "RTPGET_RETRY_FOR=3s")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			if ctx.Err() != nil {
				t.Fatalf("rtpget still running after 30 s against a silent %s server: %v\n%s", proto, err, stderr.String())
			}
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("exit %v, want 1\n%s", err, stderr.String())
			}
			msg := stderr.String()
			for _, want := range []string{"no server can give the missing bytes", "no answer within 2s", "no progress for"} {
				if !strings.Contains(msg, want) {
					t.Errorf("stderr lacks %q:\n%s", want, msg)
				}
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("final name exists after a failed download: %v", err)
			}
			t.Logf("%s", strings.TrimSpace(msg))
		})
	}
}
