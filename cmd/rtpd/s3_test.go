package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lukechampine.com/blake3"

	"github.com/rtp-project/rtp/internal/rtpdtest"
	"github.com/rtp-project/rtp/internal/s3test"
)

// s3Flags returns the flags rtpd needs to reach gw, with its own index.
func s3ServeFlags(t *testing.T, gw *s3test.Server) []string {
	t.Helper()
	return []string{
		"--s3-endpoint", gw.Endpoint,
		"--s3-access-key-id", gw.AccessKey,
		"--s3-secret-access-key-file", gw.SecretFile(t),
		"--index", filepath.Join(t.TempDir(), "index.db"),
	}
}

// s3Backend puts the files of dir into a bucket of a versitygw of the
// test's own, under a prefix, and serves that.
func s3Backend(t *testing.T, dir string) (string, []string) {
	gw := s3test.Start(t)
	gw.MakeBucket(t, "conformance")
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		b, err := os.ReadFile(filepath.Join(dir, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		gw.Put(t, "conformance", "suite/"+de.Name(), b)
	}
	return "s3://conformance/suite", s3ServeFlags(t, gw)
}

// The conformance suite, unchanged, against rtpd serving a bucket.
func TestConformanceS3(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs rtpd and versitygw")
	}
	runConformance(t, startRTPD(t, s3Backend))
}

// rtpURL is the rtp: URL of data on the server at dial.
func rtpURL(data []byte, dial string) string {
	b3 := blake3.Sum256(data)
	sha := sha256.Sum256(data)
	return fmt.Sprintf("rtp:?u=urn:blake3:%s&u=urn:sha256:%s&l=%d&s=%s", hex.EncodeToString(b3[:]), hex.EncodeToString(sha[:]), len(data), dial)
}

// rtpd over a bucket serves nested keys and keys with spaces and non-ASCII
// letters to rtpget, lists them with ls; while the bucket is down it stays
// up, /healthz says why, downloads fail with a retryable error and keep
// their partial state; once it is back, they succeed, with no restart.
func TestS3OriginOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("runs rtpd, rtpget and versitygw")
	}
	gw := s3test.Start(t)
	gw.MakeBucket(t, "blobs")
	files := map[string][]byte{
		"nested/deeper/a.bin":  randBytes(5<<20 + 7),
		"with space/ünï ✓.txt": []byte("a key with spaces and letters beyond ASCII\n"),
		"later.bin":            randBytes(9<<20 + 3),
	}
	for k, v := range files {
		gw.Put(t, "blobs", "pub/"+k, v)
	}
	gw.Put(t, "blobs", "private/not-served", []byte("outside the prefix"))
	flags := s3ServeFlags(t, gw)

	out, stderr, code := rtpdtest.Run(t, rtpdtest.RTPD, append(append([]string{"ls"}, flags...), "s3://blobs/pub")...)
	if code != 0 {
		t.Fatalf("rtpd ls: exit %d: %s", code, stderr)
	}
	for k := range files {
		if !strings.Contains(out, k) {
			t.Errorf("rtpd ls lacks %q:\n%s", k, out)
		}
	}
	if strings.Contains(out, "not-served") {
		t.Errorf("rtpd ls lists a key outside the prefix:\n%s", out)
	}
	if strings.Contains(stderr, gw.SecretKey) || strings.Contains(out, gw.SecretKey) {
		t.Errorf("rtpd printed the secret key")
	}

	srv := rtpdtest.Start(t, "s3://blobs/pub", append([]string{"--listen", "tcp!127.0.0.1!0", "--metrics", "tcp!127.0.0.1!0"}, flags...)...)
	dial := srv.Dials[0]
	healthz := "http://" + strings.ReplaceAll(strings.TrimPrefix(srv.Metrics[0], "tcp!"), "!", ":") + "/healthz"
	work := t.TempDir()
	get := func(name string) (string, int) {
		t.Helper()
		outFile := filepath.Join(work, filepath.Base(name))
		_, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, "-o", outFile, "--stall", "2s", "--retry-for", "3s", rtpURL(files[name], dial))
		if code == 0 {
			got, err := os.ReadFile(outFile)
			if err != nil || !bytes.Equal(got, files[name]) {
				t.Fatalf("rtpget %s: exit 0 but the file differs (%v)", name, err)
			}
		}
		return stderr, code
	}
	for _, k := range []string{"nested/deeper/a.bin", "with space/ünï ✓.txt"} {
		if stderr, code := get(k); code != 0 {
			t.Fatalf("rtpget %s: exit %d: %s\nrtpd:\n%s", k, code, stderr, srv.Log())
		}
	}
	if code, body := httpGet(t, healthz); code != http.StatusOK {
		t.Fatalf("/healthz with the bucket up: %d %s", code, body)
	}

	gw.Stop()
	// A download that starts while the bucket is down waits it out
	// (rtpget retries "temporarily unavailable"); a short one gives up
	// with the reason.
	bgOut := filepath.Join(work, "bg-later.bin")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bg := exec.CommandContext(ctx, rtpdtest.RTPGet, "-q", "-o", bgOut, "--stall", "5s", "--retry-for", "3m", rtpURL(files["later.bin"], dial))
	var bgErr bytes.Buffer
	bg.Stderr = &bgErr
	if err := bg.Start(); err != nil {
		t.Fatal(err)
	}
	stderr, code = get("later.bin")
	if code != 1 || !strings.Contains(stderr, "unavailable") {
		t.Errorf("rtpget with the bucket down: exit %d, want 1 naming the retryable error: %s", code, stderr)
	}
	t.Logf("rtpget with the bucket down: exit %d: %s", code, strings.TrimSpace(stderr))
	if code, body := httpGet(t, healthz); code == http.StatusOK || !strings.Contains(body, "bucket") {
		t.Errorf("/healthz with the bucket down: %d %q, want an error naming the bucket", code, body)
	}
	// RTP_S3_OUTAGE=30s makes the outage last that long (by hand: the
	// tests keep it short).
	if d, err := time.ParseDuration(os.Getenv("RTP_S3_OUTAGE")); err == nil {
		t.Logf("keeping the bucket down for %s", d)
		time.Sleep(d)
	}
	if !srv.Alive() {
		t.Fatalf("rtpd exited with the bucket down:\n%s", srv.Log())
	}
	if code, body := httpGet(t, healthz); code == http.StatusOK {
		t.Errorf("/healthz at the end of the outage: %d %q", code, body)
	} else {
		t.Logf("/healthz at the end of the outage: %d %s", code, strings.TrimSpace(body))
	}

	gw.Restart(t)
	if err := bg.Wait(); err != nil {
		t.Fatalf("the download started during the outage: %v: %s", err, bgErr.String())
	}
	if got, err := os.ReadFile(bgOut); err != nil || !bytes.Equal(got, files["later.bin"]) {
		t.Fatalf("the download started during the outage ended with other bytes (%v)", err)
	}
	if stderr, code := get("later.bin"); code != 0 {
		t.Fatalf("rtpget once the bucket is back: exit %d: %s\nrtpd:\n%s", code, stderr, srv.Log())
	}
	if code, body := httpGet(t, healthz); code != http.StatusOK {
		t.Errorf("/healthz once the bucket is back: %d %s", code, body)
	}
	for _, line := range strings.Split(srv.Log(), "\n") {
		if strings.Contains(line, "bucket unreachable") || strings.Contains(line, "reachable again") {
			t.Logf("rtpd: %s", line)
		}
	}
	if strings.Contains(srv.Log(), gw.SecretKey) {
		t.Errorf("rtpd logged the secret key")
	}
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
