package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"lukechampine.com/blake3"

	"github.com/rtp-project/rtp/internal/rtpdtest"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/swarm"
	"github.com/rtp-project/rtp/urn"
)

func writeRandom(t *testing.T, dir, name string, n int) ([]byte, *rtpurl.URL) {
	t.Helper()
	data := make([]byte, n)
	rand.Read(data)
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return data, &rtpurl.URL{
		Hashes: []urn.Hash{urn.New(urn.BLAKE3, blake3.Sum256(data)), urn.New(urn.SHA256, sha256.Sum256(data))},
		Length: int64(n),
		Name:   name,
	}
}

func addServers(u *rtpurl.URL, servers ...*rtpdtest.Server) string {
	c := *u
	for _, s := range servers {
		for _, d := range s.Dials {
			dl, _ := rtpurl.ParseDial(d)
			c.Servers = append(c.Servers, dl)
		}
	}
	return c.String()
}

func TestBadInputExits2(t *testing.T) {
	const sha = "urn:sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	cases := map[string][]string{
		"v=2":           {"rtp:?u=" + sha + "&s=tcp!127.0.0.1!1&v=2"},
		"no u":          {"rtp:?s=tcp!127.0.0.1!1"},
		"no s":          {"rtp:?u=" + sha},
		"malformed urn": {"rtp:?u=urn:sha256:abc&s=tcp!127.0.0.1!1"},
		"not rtp":       {"http://example.org/"},
		"two urls":      {"rtp:?u=" + sha + "&s=tcp!h", "rtp:?u=" + sha + "&s=tcp!h"},
		"no url":        {},
		"bad flag":      {"--no-such-flag", "rtp:?u=" + sha + "&s=tcp!h"},
		"bad stall":     {"--stall", "0s", "rtp:?u=" + sha + "&s=tcp!h"},
		"bad retry-for": {"--retry-for", "-1s", "rtp:?u=" + sha + "&s=tcp!h"},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			_, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, append([]string{"-C", dir}, args...)...)
			if code != 2 {
				t.Errorf("exit %d, want 2; stderr: %s", code, stderr)
			}
			if lines := strings.Count(strings.TrimSpace(stderr), "\n"); lines != 0 || !strings.HasPrefix(stderr, "rtpget: ") {
				t.Errorf("want one line starting rtpget:, got %q", stderr)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("files created: %v", ents)
			}
		})
	}
}

// summary runs rtpget --json and decodes its summary.
func summary(t *testing.T, args ...string) (swarm.Result, string, int) {
	t.Helper()
	stdout, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, append([]string{"--json", "-k"}, args...)...)
	var r swarm.Result
	if err := json.Unmarshal([]byte(stdout), &r); err != nil && code != 2 {
		t.Fatalf("decoding --json output %q: %v (stderr %s)", stdout, err, stderr)
	}
	return r, stderr, code
}

func TestThreeServersOneKilled(t *testing.T) {
	blobs := t.TempDir()
	data, u := writeRandom(t, blobs, "big.bin", 256<<20)
	var servers []*rtpdtest.Server
	for i := range 3 {
		proto := []string{"tcp", "tls", "quic"}[i]
		servers = append(servers, rtpdtest.Start(t, blobs, "--index", filepath.Join(t.TempDir(), "index.db"), "--listen", proto+"!127.0.0.1!0",
			"--metrics", "tcp!127.0.0.1!0"))
	}
	md, err := rtpurl.ParseDial(servers[1].Metrics[0])
	if err != nil {
		t.Fatal(err)
	}
	metrics := "http://" + md.Address() + "/metrics"
	out := filepath.Join(t.TempDir(), "big.bin")
	cmd := exec.Command(rtpdtest.RTPGet, "--json", "-k", "-o", out, addServers(u, servers...))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill the second server once it has sent 4 MiB: mid-download, with
	// READs of it in flight. (The .part file has its full size from the
	// start: rtpget reserves it.)
	killed := false
	var sent float64
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if sent = rtpdtest.Scrape(t, metrics)[`rtpd_read_bytes_total{resource="blob"}`]; sent >= 4<<20 {
			servers[1].Kill()
			killed = true
			break
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("rtpget: %v\n%s", err, stderr.String())
	}
	if !killed {
		t.Fatal("the download ended before a server could be killed")
	}
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("output differs (%d bytes, %v)", len(got), err)
	}
	var r swarm.Result
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if s := r.Servers[1]; s.Retries == 0 && s.State != swarm.StateDropped {
		t.Errorf("killed server neither retried nor dropped: %+v", s)
	}
	if s := r.Servers[1]; s.Bytes == 0 || s.Bytes >= int64(len(data)) {
		t.Errorf("killed server: rtpget received %d bytes from it, want some and not all", s.Bytes)
	}
	// Each path says what it carried and how it was driven.
	for _, i := range []int{0, 2} {
		if s := r.Servers[i]; s.Bytes == 0 || s.Sessions < 1 || s.Window < 1 || s.RTT <= 0 {
			t.Errorf("surviving path %d: %+v, want its bytes, sessions, window and round trip", i, s)
		}
	}
	if !bytes.Contains(stdout.Bytes(), []byte(`"path": "`)) || !bytes.Contains(stdout.Bytes(), []byte(`"measured_bytes_per_second"`)) {
		t.Errorf("--json summary without the paths' figures: %s", stdout.Bytes())
	}
	t.Logf("the %s server was killed after sending %.0f bytes", servers[1].Dials[0], sent)
	if _, err := os.Stat(out + ".part"); !os.IsNotExist(err) {
		t.Errorf(".part left behind: %v", err)
	}
	t.Logf("servers: %+v", r.Servers)
}

func TestAllKilledThenResume(t *testing.T) {
	blobs := t.TempDir()
	data, u := writeRandom(t, blobs, "big.bin", 128<<20)
	var servers []*rtpdtest.Server
	for range 2 {
		port := rtpdtest.FreePort(t)
		servers = append(servers, rtpdtest.Start(t, blobs, "--index", filepath.Join(t.TempDir(), "index.db"), "--listen", fmt.Sprintf("tcp!127.0.0.1!%d", port)))
	}
	url := addServers(u, servers...)
	out := filepath.Join(t.TempDir(), "big.bin")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, rtpdtest.RTPGet, "--json", "--stall", "1s", "--retry-for", "2s", "-o", out, url)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitWritten(t, out+".part", int64(len(data)/4))
	for _, s := range servers {
		s.Kill()
	}
	err := cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("all servers killed: exit %d (%v), want 1\n%s", code, err, stderr.String())
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("final name exists after a failed download: %v", err)
	}
	var first swarm.Result
	if err := json.Unmarshal(stdout.Bytes(), &first); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(out + ".part.state"); err != nil {
		t.Fatalf("no resume state: %v", err)
	}

	for _, s := range servers {
		s.Restart()
	}
	r, stderrText, code := summary(t, "-o", out, url)
	if code != 0 {
		t.Fatalf("rerun: exit %d\n%s", code, stderrText)
	}
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("resumed output differs (%d bytes, %v)", len(got), err)
	}
	var dup int64
	for _, s := range r.Servers {
		dup += s.Dup
	}
	missing := int64(len(data)) - r.Kept
	t.Logf("first run received %d bytes; rerun kept %d, received %d (%d endgame copies), %d were missing",
		first.Fetched, r.Kept, r.Fetched, dup, missing)
	if r.Kept == 0 {
		t.Error("the rerun kept nothing")
	}
	if r.Fetched < missing || r.Fetched > missing+dup {
		t.Errorf("rerun received %d bytes for %d missing (+%d endgame copies)", r.Fetched, missing, dup)
	}
}

func TestPinnedCertificate(t *testing.T) {
	blobs := t.TempDir()
	data, u := writeRandom(t, blobs, "p.bin", 3<<20)
	s := rtpdtest.Start(t, blobs, "--listen", "tls!127.0.0.1!0", "--listen", "quic!127.0.0.1!0")
	fp := regexpFingerprint.FindStringSubmatch(s.Log())
	if fp == nil {
		t.Fatalf("no fingerprint in the log:\n%s", s.Log())
	}
	url := addServers(u, s)
	out := filepath.Join(t.TempDir(), "p.bin")
	// Without -k or a pin, the self-signed certificate is refused: exit 1.
	if _, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, "-q", "-o", out, url); code != 1 || !strings.Contains(stderr, "certificate") {
		t.Errorf("unpinned: exit %d, %s", code, stderr)
	}
	wrong := strings.Repeat("ab", 32)
	if _, _, code := rtpdtest.Run(t, rtpdtest.RTPGet, "-q", "--pin", wrong, "-o", out, url); code != 1 {
		t.Errorf("wrong pin: exit %d, want 1", code)
	}
	if _, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, "-q", "--pin", fp[1], "-o", out, url); code != 0 {
		t.Fatalf("pinned: exit %d, %s", code, stderr)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, data) {
		t.Error("output differs")
	}
	if _, _, code := rtpdtest.Run(t, rtpdtest.RTPGet, "--pin", "xyz", "-o", out, url); code != 2 {
		t.Errorf("malformed pin: exit %d, want 2", code)
	}
}

var regexpFingerprint = regexp.MustCompile(`tls certificate" sha256=([0-9a-f]{64})`)
