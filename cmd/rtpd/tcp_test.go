package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rtp-project/rtp/internal/rtpdtest"
	"github.com/rtp-project/rtp/rtpurl"
)

func TestTCPFlagsBadUsage(t *testing.T) {
	dir := t.TempDir()
	wantUsageErrors(t,
		[]string{"serve", "--tcp-congestion", "no-such-cc", dir},
		[]string{"serve", "--tcp-send-buffer", "-1", dir},
		[]string{"serve", "--tcp-notsent-lowat", "-1", dir},
	)
	_, stderr, _ := rtpdtest.Run(t, rtpdtest.RTPD, "serve", "--tcp-congestion", "no-such-cc", dir)
	if !strings.Contains(stderr, `"no-such-cc" is not in this kernel`) || !strings.Contains(stderr, "tcp_available_congestion_control") {
		t.Errorf("stderr %q does not say the kernel lacks it and what it offers", stderr)
	}
	t.Setenv("RTPD_TCP_CONGESTION", "no-such-cc")
	wantUsageErrors(t, []string{"serve", dir})
}

// TestTCPCongestionFlag checks with ss(8) that the connection rtpd accepted
// uses the algorithm --tcp-congestion names, and that the start log says so.
func TestTCPCongestionFlag(t *testing.T) {
	if _, err := exec.LookPath("ss"); err != nil {
		t.Skip("no ss(8)")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644)
	for _, cc := range []string{"reno", "bbr"} {
		s := rtpdtest.Start(t, dir, "--listen", "tcp!127.0.0.1!0", "--tcp-congestion", cc)
		if !strings.Contains(s.Log(), "tcp: congestion control "+cc) {
			t.Errorf("start log does not name %s:\n%s", cc, s.Log())
		}
		d, err := rtpurl.ParseDial(s.Dials[0])
		if err != nil {
			t.Fatal(err)
		}
		c, err := net.Dial("tcp", d.Address())
		if err != nil {
			t.Fatal(err)
		}
		// The kernel finished the handshake before Dial returned: the
		// server's socket is established, accepted or not.
		out, err := exec.Command("ss", "-tinH", "state", "established", "sport", "= :"+strconv.Itoa(d.Port)).CombinedOutput()
		c.Close()
		if err != nil {
			t.Fatalf("ss: %v: %s", err, out)
		}
		if !slices.Contains(strings.Fields(string(out)), cc) {
			t.Errorf("--tcp-congestion %s: rtpd's socket:\n%s", cc, out)
		}
		s.Kill()
	}
}
