package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rtp-project/rtp/internal/rtpdtest"
	"github.com/rtp-project/rtp/rtpurl"
)

// TestSecondRtpdServesNotTheFirstsKey: one rtpd keeps its index in a plain
// folder inside the folder it serves (--index blobs/state/index.db) and
// makes its self-signed certificate and key there; a second rtpd serves
// the same folder with its index elsewhere, as the README shows. The
// second's HTTP face, Gemini face and rtpd ls must show none of the first's
// files, and neither face may hand out their bytes by hash or by name.
func TestSecondRtpdServesNotTheFirstsKey(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl is needed for this test (Debian package openssl)")
	}
	blobs := t.TempDir()
	film := randomFile(t, filepath.Join(blobs, "pub", "film.bin"), 100<<10)
	rtpdtest.Start(t, blobs, "--index", filepath.Join(blobs, "state", "index.db"), "--listen", "tls!127.0.0.1!0")
	secret := map[string][]byte{}
	filepath.WalkDir(filepath.Join(blobs, "state"), func(p string, de fs.DirEntry, err error) error {
		if err == nil && de.Type().IsRegular() {
			rel, _ := filepath.Rel(blobs, p)
			secret[filepath.ToSlash(rel)], _ = os.ReadFile(p)
		}
		return nil
	})
	for _, want := range []string{"state/key.pem", "state/cert.pem", "state/index.db"} {
		if _, ok := secret[want]; !ok {
			t.Fatalf("the first rtpd made no %s: %v", want, secret)
		}
	}

	s := rtpdtest.Start(t, blobs, "--index", filepath.Join(t.TempDir(), "state-b", "index.db"),
		"--listen", "tcp!127.0.0.1!0", "--http", "tcp!127.0.0.1!0", "--gemini", "tcp!127.0.0.1!0")
	base := "http://" + address(t, s.HTTP[0])
	gd, err := rtpurl.ParseDial(s.Gemini[0])
	if err != nil {
		t.Fatal(err)
	}
	get := func(url string) (int, string) {
		t.Helper()
		c := http.Client{Timeout: 20 * time.Second}
		resp, err := c.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	code, page := get(base + "/")
	if code != 200 || !strings.Contains(page, "pub/film.bin") {
		t.Fatalf("GET /: %d, film.bin listed: %v", code, strings.Contains(page, "pub/film.bin"))
	}
	if code, _ := get(base + "/sha256/" + hexSHA(film)); code != 200 {
		t.Errorf("GET film.bin by hash: %d, want 200", code)
	}
	stdout, stderr, code := rtpdtest.Run(t, rtpdtest.RTPD, "ls", "--index", filepath.Join(t.TempDir(), "index.db"), blobs)
	if code != 0 || !strings.Contains(stdout, "pub/film.bin") {
		t.Fatalf("rtpd ls: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for name, data := range secret {
		if strings.Contains(page, filepath.Base(name)) {
			t.Errorf("the second rtpd's page lists %s", name)
		}
		if code, body := get(base + "/sha256/" + hexSHA(data)); code != 404 {
			t.Errorf("GET %s by hash: %d %.40q, want 404", name, code, body)
		}
		if out := sClient(t, gd.Port, fmt.Sprintf("gemini://localhost:%d/%s", gd.Port, name)); !strings.HasPrefix(out, "51 ") {
			t.Errorf("Gemini %s: %.60q, want 51 (not found)", name, out)
		}
		if strings.Contains(stdout, name) {
			t.Errorf("rtpd ls lists %s", name)
		}
	}
}

func hexSHA(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
