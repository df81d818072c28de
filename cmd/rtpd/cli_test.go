package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"lukechampine.com/blake3"

	"github.com/rtp-project/rtp/client"
	"github.com/rtp-project/rtp/internal/rtpdtest"
	"github.com/rtp-project/rtp/internal/testload"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/urn"
)

func TestURLAndLs(t *testing.T) {
	dir := t.TempDir()
	data := []byte("hello, rtp\n")
	os.WriteFile(filepath.Join(dir, "hello.txt"), data, 0o644)
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "sub", "empty"), nil, 0o644)
	sum := sha256.Sum256(data)

	out, stderr, code := rtpdtest.Run(t, rtpdtest.RTPD, "url", "--server", "tls!example.org!9000", "--server", "quic!::1", filepath.Join(dir, "hello.txt"))
	if code != 0 {
		t.Fatalf("rtpd url: exit %d: %s", code, stderr)
	}
	u, err := rtpurl.Parse(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("rtpd url printed %q: %v", out, err)
	}
	if u.Length != int64(len(data)) || u.Name != "hello.txt" || len(u.Servers) != 2 || u.Servers[1].String() != "quic!::1!7777" {
		t.Errorf("rtpd url: %+v", u)
	}
	if len(u.Hashes) != 1 || u.Hashes[0] != urn.New(urn.BLAKE3, blake3.Sum256(data)) {
		t.Errorf("rtpd url hashes: %v, want the blake3 urn alone", u.Hashes)
	}
	for _, args := range [][]string{{"url", "--hash", "both"}, {"url", "--url-hash", "both"}} {
		out, stderr, code := rtpdtest.Run(t, rtpdtest.RTPD, append(args, filepath.Join(dir, "hello.txt"))...)
		u, err := rtpurl.Parse(strings.TrimSpace(out))
		if code != 0 || err != nil || len(u.Hashes) != 2 || u.Hashes[0].Kind != urn.BLAKE3 || u.Hashes[1] != urn.New(urn.SHA256, sum) {
			t.Errorf("rtpd %s: exit %d, %q (%v): want blake3 and sha256 urns; %s", strings.Join(args, " "), code, out, err, stderr)
		}
	}

	out, stderr, code = rtpdtest.Run(t, rtpdtest.RTPD, "ls", dir)
	if code != 0 {
		t.Fatalf("rtpd ls: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"hello.txt", hex.EncodeToString(sum[:]), "sub/empty", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"} {
		if !strings.Contains(out, want) {
			t.Errorf("rtpd ls output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, ".rtpd") {
		t.Errorf("rtpd ls lists the index folder:\n%s", out)
	}
}

func TestBadUsageExits2(t *testing.T) {
	dir := t.TempDir()
	cases := [][]string{
		{"serve"},
		{"serve", "--listen", "udp!x!1", dir},
		{"serve", "--listen", "tcp!x!port", dir},
		{"serve", "--max-read", "0", dir},
		{"serve", "--no-such-flag", dir},
		{"no-such-command"},
		{"url"},
		{"url", "--server", "tcp", "f"},
	}
	wantUsageErrors(t, cases...)
}

// wantUsageErrors checks that rtpd exits 2 with one line, "rtpd: …", for
// each command line.
func wantUsageErrors(t *testing.T, cases ...[]string) {
	t.Helper()
	for _, args := range cases {
		_, stderr, code := rtpdtest.Run(t, rtpdtest.RTPD, args...)
		if code != 2 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.HasPrefix(stderr, "rtpd: ") {
			t.Errorf("rtpd %v: exit %d, stderr %q; want 2 and one line", args, code, stderr)
		}
	}
}

var fingerprint = regexp.MustCompile(`tls certificate" sha256=([0-9a-f]{64})`)

func TestSelfSignedCertKeptAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644)
	s := rtpdtest.Start(t, dir, "--listen", "tls!127.0.0.1!0", "--listen", "quic!127.0.0.1!0")
	first := fingerprint.FindStringSubmatch(s.Log())
	if first == nil {
		t.Fatalf("no fingerprint logged:\n%s", s.Log())
	}
	// The logged fingerprint is that of the certificate the server presents.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, d := range s.Dials {
		dl, _ := rtpurl.ParseDial(d)
		sess, err := client.Dial(ctx, dl, &client.Options{TLS: pinned(first[1])})
		if err != nil {
			t.Fatalf("%s with the logged fingerprint pinned: %v", d, err)
		}
		sess.Close()
	}
	s.Restart()
	all := fingerprint.FindAllStringSubmatch(s.Log(), -1)
	if len(all) != 2 || all[1][1] != first[1] {
		t.Errorf("fingerprints logged by two starts: %v; want the same twice", all)
	}
}

func TestGracefulShutdownFinishesInflightReads(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, testload.Bytes(64<<20))
	for i := range data {
		data[i] = byte(i * 7)
	}
	os.WriteFile(filepath.Join(dir, "f"), data, 0o644)
	s := rtpdtest.Start(t, dir, "--listen", "tcp!127.0.0.1!0", "--metrics", "tcp!127.0.0.1!0")
	murl := "http://" + address(t, s.Metrics[0]) + "/metrics"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dl, _ := rtpurl.ParseDial(s.Dials[0])
	sess, err := client.Dial(ctx, dl, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	sum := sha256.Sum256(data)
	tok, err := sess.Open(ctx, urn.New(urn.SHA256, sum).String())
	if err != nil {
		t.Fatal(err)
	}
	// A slow reader: 16 READs in flight that it reads only after SIGTERM.
	slow := &gate{open: make(chan struct{})}
	size := min(1<<20, len(data)/16)
	var calls []*client.Call
	for i := range 16 {
		calls = append(calls, sess.StartRead(tok, uint64(i*size), uint64(size), slow))
	}
	// READs rtpd has not read when the signal comes are not started, and
	// are not answered: wait until its metrics count all 16 taken on, in
	// flight or written whole into the socket buffers. Those in flight
	// stay so: the client reads nothing more until the gate opens.
	var inflight float64
	pollUntil(t, "rtpd takes on 16 READs", func() bool {
		m := rtpdtest.Scrape(t, murl)
		inflight = m[`rtpd_reads_in_flight`]
		return inflight+m[`rtpd_reads_total{result="data"}`] == 16
	})
	if inflight == 0 {
		t.Fatal("every READ was answered before SIGTERM: nothing is left for the shutdown to finish")
	}
	s.Signal(syscall.SIGTERM)
	// The shutdown closes the listeners and stops the sessions at once: a
	// refused dial means it has begun, and the READs finish during it.
	pollUntil(t, "rtpd refuses connections after SIGTERM", func() bool {
		c, err := net.Dial("tcp", dl.Address())
		if err == nil {
			c.Close()
		}
		return errors.Is(err, syscall.ECONNREFUSED)
	})
	t.Logf("SIGTERM with %.0f READs of %d bytes in flight", inflight, size)
	close(slow.open)
	for i, c := range calls {
		if err := c.Wait(ctx); err != nil || c.N != int64(size) {
			t.Errorf("READ %d after SIGTERM: %d bytes, %v", i, c.N, err)
		}
	}
	if code := s.Wait(); code != 0 {
		t.Errorf("rtpd exited %d after SIGTERM, want 0\n%s", code, s.Log())
	}
	if !strings.Contains(s.Log(), "shutting down") {
		t.Errorf("no shutdown line in the log:\n%s", s.Log())
	}
}

// pollUntil calls cond every 5 ms until it is true, and fails the test if
// it is not within 30 s.
func pollUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within 30 s: %s", what)
		}
	}
}

// gate blocks writes until open is closed.
type gate struct{ open chan struct{} }

func (g *gate) Write(p []byte) (int, error) { <-g.open; return len(p), nil }

// rtpd --version prints what rtpget's does (see cmd/rtpget TestVersion for
// the revision).
func TestVersion(t *testing.T) { rtpdtest.CheckVersion(t, rtpdtest.RTPD, "rtpd") }
