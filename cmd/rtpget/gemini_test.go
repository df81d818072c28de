package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rtp-project/rtp/internal/rtpdtest"
	"github.com/rtp-project/rtp/server"
)

// oneLine fails unless stderr is one line starting "rtpget: ".
func oneLine(t *testing.T, stderr string) {
	t.Helper()
	if strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.HasPrefix(stderr, "rtpget: ") {
		t.Errorf("want one line starting rtpget:, got %q", stderr)
	}
}

// TestMollyBrownInterop is the acceptance 1: molly-brown answers
// 53 to the gemini+rtp:// request, rtpget asks again as gemini://, a CGI
// script answers 31 with the rtp: URL of a file rtpd serves, and rtpget
// downloads it exactly.
func TestMollyBrownInterop(t *testing.T) {
	m := startMolly(t)
	blobs := t.TempDir()
	data, u := writeRandom(t, blobs, "film.bin", 5<<20)
	s := rtpdtest.Start(t, blobs, "--index", filepath.Join(t.TempDir(), "index.db"), "--listen", "tcp!127.0.0.1!0")
	url := addServers(u, s)
	m.cgi(t, "film", "31 "+url)
	m.cgi(t, "hop", "30 /cgi-bin/film")
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())

	name := fmt.Sprintf("gemini+rtp://localhost:%d/cgi-bin/film", m.Port)
	out := filepath.Join(t.TempDir(), "film.bin")
	_, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, "-v", "-o", out, name)
	if code != 0 {
		t.Fatalf("rtpget %s: exit %d\n%s\nmolly-brown:\n%s", name, code, stderr, m.log())
	}
	if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("output differs (%d bytes, %v)", len(got), err)
	}
	retry := ""
	for _, line := range strings.Split(stderr, "\n") {
		if strings.Contains(line, "asking again as gemini://") {
			retry = line
		}
	}
	if retry == "" {
		t.Errorf("-v does not say it retried as gemini://:\n%s", stderr)
	}
	t.Logf("rtpget -v: %s", retry)
	t.Logf("molly-brown access log: %q", m.requests(t, "/cgi-bin/film"))
	gem := fmt.Sprintf("gemini://localhost:%d/cgi-bin/film", m.Port)
	if got, want := m.requests(t, "/cgi-bin/film"), []string{"53 " + name, "31 " + gem}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("molly-brown saw %q, want %q", got, want)
	}
	known, _ := os.ReadFile(filepath.Join(os.Getenv("XDG_CONFIG_HOME"), "rtpget", "known_hosts"))
	if !strings.HasPrefix(string(known), fmt.Sprintf("localhost:%d sha256 ", m.Port)) {
		t.Errorf("known_hosts after first use: %q", known)
	}

	// A relative redirect to another name, then the rtp: URL.
	stdout, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, "--resolve", fmt.Sprintf("gemini+rtp://localhost:%d/cgi-bin/hop", m.Port))
	if code != 0 || strings.TrimSpace(stdout) != url {
		t.Errorf("--resolve through /cgi-bin/hop: exit %d, %q, %s", code, stdout, stderr)
	}
}

// TestGeminiRedirectLimits is part of acceptance 3: a redirect loop stops
// after 5, a redirect to something other than rtp: is refused, and other
// statuses are errors that show the status and meta.
func TestGeminiRedirectLimits(t *testing.T) {
	m := startMolly(t)
	m.cgi(t, "loop", fmt.Sprintf("31 gemini://localhost:%d/cgi-bin/loop", m.Port))
	m.cgi(t, "away", "31 https://example.org/film.iso")
	m.cgi(t, "gone", "51 Not here any more")
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	name := func(n string) string { return fmt.Sprintf("gemini+rtp://localhost:%d/cgi-bin/%s", m.Port, n) }
	dir := t.TempDir()

	for _, c := range []struct{ cgi, want string }{
		{"loop", "too many redirects: stopped after 5"},
		{"away", `redirects to "https://example.org/film.iso": redirect target is not an rtp: URL; refused`},
		{"gone", `status 51 "Not here any more"`},
	} {
		_, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, "-C", dir, name(c.cgi))
		if code != 1 || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: exit %d, %q; want 1 and %q", c.cgi, code, stderr, c.want)
		}
		oneLine(t, stderr)
	}
	// One 53, then the first request as gemini:// and four redirects more.
	if got := m.requests(t, "/cgi-bin/loop"); len(got) != 6 || !strings.HasPrefix(got[0], "53 ") {
		t.Errorf("molly-brown saw %d requests for the loop, want 6 (a 53 and five 31s): %q", len(got), got)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("files created: %v", ents)
	}
}

// TestGeminiCertChanged is part of acceptance 3: once a Gemini server's
// certificate is pinned, another one is refused with an error naming the
// known_hosts file, until -k.
func TestGeminiCertChanged(t *testing.T) {
	blobs := t.TempDir()
	_, u := writeRandom(t, blobs, "f.bin", 64<<10)
	certs := [2]string{t.TempDir(), t.TempDir()}
	for _, d := range certs {
		if _, _, err := server.LoadOrCreateCert("", "", d); err != nil {
			t.Fatal(err)
		}
	}
	index := filepath.Join(t.TempDir(), "index.db")
	gport := rtpdtest.FreePort(t)
	start := func(certDir string) *rtpdtest.Server {
		return rtpdtest.Start(t, blobs, "--index", index, "--listen", "tcp!127.0.0.1!0",
			"--gemini", fmt.Sprintf("tcp!127.0.0.1!%d", gport),
			"--tls-cert", filepath.Join(certDir, "cert.pem"), "--tls-key", filepath.Join(certDir, "key.pem"))
	}
	cfg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", cfg)
	known := filepath.Join(cfg, "rtpget", "known_hosts")
	name := fmt.Sprintf("gemini+rtp://localhost:%d/f.bin", gport)

	s := start(certs[0])
	if stdout, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, "--resolve", name); code != 0 || !strings.Contains(stdout, u.Hashes[0].String()) {
		t.Fatalf("first use: exit %d, %q, %s", code, stdout, stderr)
	}
	pinned, err := os.ReadFile(known)
	if err != nil {
		t.Fatal(err)
	}
	s.Kill()
	start(certs[1])
	dir := t.TempDir()
	_, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, "-C", dir, name)
	if code != 1 || !strings.Contains(stderr, "is not the one trusted on first use") || !strings.Contains(stderr, known) || !strings.Contains(stderr, fmt.Sprintf("localhost:%d", gport)) {
		t.Errorf("changed certificate: exit %d, %q; want 1 and the known_hosts error", code, stderr)
	}
	oneLine(t, stderr)
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("files created: %v", ents)
	}
	if now, _ := os.ReadFile(known); !bytes.Equal(now, pinned) {
		t.Errorf("known_hosts changed: %q, was %q", now, pinned)
	}
	if _, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, "-k", "--resolve", name); code != 0 {
		t.Errorf("-k: exit %d, %s", code, stderr)
	}
	t.Logf("the refusal: %s", strings.TrimSpace(stderr))
}

func TestGeminiBadNamesExit2(t *testing.T) {
	cfg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", cfg)
	for _, name := range []string{
		"gemini+rtp://",
		"gemini+rtp:///path",
		"gemini+rtp://user@localhost/x",
		"gemini://localhost:99999/x",
		"gemini+rtp://localhost/" + strings.Repeat("a", 1100),
	} {
		dir := t.TempDir()
		_, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, "-C", dir, name)
		if code != 2 {
			t.Errorf("%.60s: exit %d, want 2; stderr %s", name, code, stderr)
		}
		oneLine(t, stderr)
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Errorf("files created: %v", ents)
		}
	}
	// Nothing listening: resolution fails, exit 1.
	name := fmt.Sprintf("gemini+rtp://127.0.0.1:%d/x", rtpdtest.FreePort(t))
	_, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, "--resolve", name)
	if code != 1 || !strings.Contains(stderr, name) {
		t.Errorf("nothing listening: exit %d, %q; want 1 naming the name", code, stderr)
	}
	oneLine(t, stderr)
	if ents, _ := os.ReadDir(cfg); len(ents) != 0 {
		t.Errorf("a failed resolution wrote to the config folder: %v", ents)
	}
}
