package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rtp-project/rtp/internal/mangen"
	"github.com/rtp-project/rtp/internal/rtpdtest"
)

// envFile reads contrib/rtpd.env: the variables set, and every RTPD_*
// named, commented out or not.
func envFile(t *testing.T) (set map[string]string, named []string) {
	t.Helper()
	b, err := os.ReadFile("../../contrib/rtpd.env")
	if err != nil {
		t.Fatal(err)
	}
	set = map[string]string{}
	assign := regexp.MustCompile(`^#?([A-Z][A-Z0-9_]*)=(.*)$`)
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		m := assign.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		if strings.HasPrefix(m[1], "RTPD_") {
			named = append(named, m[1])
		}
		if !strings.HasPrefix(sc.Text(), "#") {
			set[m[1]] = m[2]
		}
	}
	return set, named
}

// TestEnvFile: every RTPD_* variable contrib/rtpd.env names is an rtpd
// serve flag's, and rtpd started with the file's settings (folder, index
// and listeners moved to temporary ones) listens on each listener, fills
// only the state folder, and serves.
func TestEnvFile(t *testing.T) {
	set, named := envFile(t)
	flags := map[string]bool{}
	for _, f := range serveCommand().Flags {
		if ef, ok := f.(interface{ GetEnvVars() []string }); ok {
			for _, e := range ef.GetEnvVars() {
				flags[e] = true
			}
		}
	}
	for _, n := range named {
		if !flags[n] {
			t.Errorf("contrib/rtpd.env names %s, which no rtpd serve flag reads", n)
		}
		delete(flags, n)
	}
	for e := range flags {
		t.Logf("contrib/rtpd.env does not mention %s", e)
	}
	for _, k := range []string{"RTP_FOLDER", "RTPD_INDEX", "RTPD_LISTEN"} {
		if set[k] == "" {
			t.Fatalf("contrib/rtpd.env does not set %s", k)
		}
	}
	if n := len(strings.Split(set["RTPD_LISTEN"], ",")); n != 3 {
		t.Fatalf("RTPD_LISTEN=%s: want tcp, tls and quic", set["RTPD_LISTEN"])
	}

	folder, state := t.TempDir(), t.TempDir()
	data := writeFile(t, filepath.Join(folder, "hello.bin"), 2<<20)
	set["RTP_FOLDER"] = folder
	set["RTPD_INDEX"] = filepath.Join(state, filepath.Base(set["RTPD_INDEX"]))
	set["RTPD_LISTEN"] = "tcp!127.0.0.1!0,tls!127.0.0.1!0,quic!127.0.0.1!0"
	cmd := exec.Command(rtpdtest.RTPD, "serve", set["RTP_FOLDER"])
	cmd.Env = os.Environ()
	for k, v := range set {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	listening := regexp.MustCompile(`listening on .* dial=(\S+)`)
	dials := make(chan string)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				dials <- m[1]
			}
		}
		close(dials)
	}()
	var got []string
	for timeout := time.After(60 * time.Second); len(got) < 3; {
		select {
		case d, ok := <-dials:
			if !ok {
				t.Fatalf("rtpd exited; listening on %v", got)
			}
			got = append(got, d)
		case <-timeout:
			t.Fatalf("listening on %v after 60 s, want 3 listeners", got)
		}
	}
	go func() {
		for range dials {
		}
	}()
	if _, err := os.Stat(set["RTPD_INDEX"]); err != nil {
		t.Errorf("no index in the state folder: %v", err)
	}
	if ents, _ := os.ReadDir(folder); len(ents) != 1 {
		t.Errorf("rtpd wrote into the served folder: %v", ents)
	}
	for _, d := range got {
		url, stderr, code := rtpdtest.Run(t, rtpdtest.RTPD, "url", "--server", d, filepath.Join(folder, "hello.bin"))
		if code != 0 {
			t.Fatalf("rtpd url: exit %d, %s", code, stderr)
		}
		out := filepath.Join(t.TempDir(), "hello.bin")
		if _, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, "-k", "-q", "-o", out, strings.TrimSpace(url)); code != 0 {
			t.Errorf("fetching from %s: exit %d, %s", d, code, stderr)
		} else if b, _ := os.ReadFile(out); !bytes.Equal(b, data) {
			t.Errorf("fetched from %s: bytes differ", d)
		}
	}
}

// TestServiceUnit checks contrib/rtpd.service with systemd-analyze, when
// installed: verify (syntax, the binary, man:rtpd(1) with the page make man
// writes) and security (exposure level at most 2.0 of 10).
func TestServiceUnit(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("no systemd-analyze (Debian: apt-get install systemd)")
	}
	unit, err := os.ReadFile("../../contrib/rtpd.service")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "rtpd.service")
	os.WriteFile(path, bytes.ReplaceAll(unit, []byte("/usr/local/bin/rtpd"), []byte(rtpdtest.RTPD)), 0o644)
	page, err := mangen.Render(newApp(), manExtra)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "man", "man1"), 0o755)
	os.WriteFile(filepath.Join(dir, "man", "man1", "rtpd.1"), []byte(page), 0o644)

	cmd := exec.Command("systemd-analyze", "verify", path)
	cmd.Env = append(os.Environ(), "MANPATH="+filepath.Join(dir, "man"), "SYSTEMD_LOG_LEVEL=notice")
	if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err := exec.Command("systemd-analyze", "security", "--offline=yes", path).CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for rtpd.service: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Skipf("systemd-analyze security --offline: %v\n%s", err, out) // systemd < 250
	}
	t.Logf("systemd-analyze security: exposure %s", m[1])
	if level, _ := strconv.ParseFloat(string(m[1]), 64); level > 2.0 {
		t.Errorf("exposure level %s, want at most 2.0:\n%s", m[1], out)
	}
}
