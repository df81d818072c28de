package web_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lukechampine.com/blake3"

	"github.com/rtp-project/rtp/internal/rtpdtest"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/web"
	"github.com/rtp-project/rtp/web/metrics"
)

type fixture struct {
	dir   string
	disk  *store.Disk
	url   string
	files map[string][]byte
	met   *metrics.Metrics
}

func newFixture(t *testing.T, files map[string][]byte) *fixture {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	disk := rtpdtest.IndexedDisk(t, dir)
	m := metrics.New(metrics.Config{})
	face := web.New(web.Config{
		Store:     disk,
		Index:     disk,
		Advertise: []rtpurl.Dial{{Proto: "tcp", Host: "0.0.0.0", Port: 7777}, {Proto: "quic", Host: "rtp.example.org", Port: 7777}},
		Gemini:    []rtpurl.Dial{{Proto: "tcp", Host: "::", Port: 1965}},
		Live:      m.Live,
		CountBlob: m.HTTPBlob,
	})
	srv := httptest.NewServer(face)
	t.Cleanup(srv.Close)
	return &fixture{dir: dir, disk: disk, url: srv.URL, files: files, met: m}
}

func get(t *testing.T, url string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
func b3(b []byte) string  { s := blake3.Sum256(b); return hex.EncodeToString(s[:]) }

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestPageListsEveryFile(t *testing.T) {
	f := newFixture(t, map[string][]byte{
		"pub/film.bin":      random(100 << 10),
		"a <b> & c.txt":     []byte("markup in a name"),
		"empty":             nil,
		".hidden/secret":    []byte("dot-files are not listed"),
		"deep/er/and/er.go": []byte("package er"),
	})
	resp, body := get(t, f.url+"/")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	page := string(body)
	for name, data := range f.files {
		if strings.HasPrefix(name, ".") {
			if strings.Contains(page, "secret") {
				t.Errorf("the page lists %s", name)
			}
			continue
		}
		want := fmt.Sprintf("rtp:?u=urn:blake3:%s&l=%d&s=tcp!127.0.0.1!7777&s=quic!rtp.example.org!7777&dn=", b3(data), len(data))
		if !strings.Contains(html.UnescapeString(page), want) {
			t.Errorf("no rtp: URL for %s (want %s…)", name, want)
		}
		if !strings.Contains(page, `data-path="`+html.EscapeString(name)+`"`) {
			t.Errorf("no row for %q", name)
		}
	}
	if !strings.Contains(html.UnescapeString(page), "gemini+rtp://127.0.0.1/pub/film.bin") {
		t.Error("no Gemini name for pub/film.bin")
	}
	if strings.Contains(page, "<b>") {
		t.Error("a file name's markup reached the page unescaped")
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
}

func TestBlob(t *testing.T) {
	data := random(300<<10 + 3)
	f := newFixture(t, map[string][]byte{"f.bin": data})
	for _, path := range []string{"/sha256/" + sha(data), "/blake3/" + b3(data), "/sha256/" + strings.ToUpper(sha(data))} {
		etag := `"` + strings.ToLower(path[8:]) + `"`
		resp, body := get(t, f.url+path)
		if resp.StatusCode != 200 || !bytes.Equal(body, data) {
			t.Fatalf("GET %s: %s, %d bytes", path, resp.Status, len(body))
		}
		if got := resp.Header.Get("ETag"); got != etag {
			t.Errorf("GET %s: ETag %s, want %s", path, got, etag)
		}
		if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") || !strings.Contains(cc, "max-age=31536000") {
			t.Errorf("Cache-Control %q", cc)
		}
		resp, body = get(t, f.url+path, "Range", "bytes=1000-1999")
		if resp.StatusCode != 206 || !bytes.Equal(body, data[1000:2000]) || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes 1000-1999/%d", len(data)) {
			t.Errorf("Range 1000-1999: %s %s, %d bytes", resp.Status, resp.Header.Get("Content-Range"), len(body))
		}
		resp, body = get(t, f.url+path, "Range", "bytes=-10")
		if resp.StatusCode != 206 || !bytes.Equal(body, data[len(data)-10:]) {
			t.Errorf("Range -10: %s, %d bytes", resp.Status, len(body))
		}
		if resp, _ = get(t, f.url+path, "If-None-Match", etag); resp.StatusCode != 304 {
			t.Errorf("If-None-Match the hash: %s, want 304", resp.Status)
		}
		if resp, body = get(t, f.url+path, "Range", "bytes=0-9", "If-Range", `"other"`); resp.StatusCode != 200 || len(body) != len(data) {
			t.Errorf("If-Range another ETag: %s, want 200 and the whole blob", resp.Status)
		}
		if resp, _ = get(t, f.url+path, "Range", fmt.Sprintf("bytes=%d-", len(data))); resp.StatusCode != 416 {
			t.Errorf("Range past the end: %s, want 416", resp.Status)
		}
	}
	resp, _ := get(t, f.url+"/sha256/"+sha(data)+"?dn=film.mp4")
	if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename=film.mp4` || resp.Header.Get("Content-Type") != "video/mp4" {
		t.Errorf("?dn=film.mp4: Content-Disposition %q, Content-Type %q", cd, resp.Header.Get("Content-Type"))
	}
	for _, bad := range []string{"/sha256/" + sha([]byte("absent")), "/sha256/00", "/blake3/" + sha(data)[:63] + "g", "/md5/" + sha(data)} {
		if resp, _ := get(t, f.url+bad); resp.StatusCode != 404 {
			t.Errorf("GET %s: %s, want 404", bad, resp.Status)
		}
	}
	req, _ := http.NewRequest("POST", f.url+"/sha256/"+sha(data), nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 405 {
		t.Errorf("POST: %v %v, want 405", resp.Status, err)
	}
	if l := f.met.Live(); l.HTTPBytes < uint64(3*len(data)) {
		t.Errorf("HTTP bytes counted %d, want at least %d", l.HTTPBytes, 3*len(data))
	}
}

// A file replaced after it was hashed is not served under the old hash.
func TestBlobChanged(t *testing.T) {
	data := random(64 << 10)
	f := newFixture(t, map[string][]byte{"f.bin": data})
	// Rewritten until its mtime differs from the one hashed: a coarse
	// file system clock may not have moved on since the first write.
	path := filepath.Join(f.dir, "f.bin")
	hashed, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	for {
		if err := os.WriteFile(path, random(64<<10), 0o644); err != nil {
			t.Fatal(err)
		}
		if now, err := os.Stat(path); err != nil || !now.ModTime().Equal(hashed.ModTime()) {
			break
		}
	}
	resp, body := get(t, f.url+"/sha256/"+sha(data))
	if resp.StatusCode != 404 {
		t.Errorf("GET of a changed file's old hash: %s, %d bytes; want 404", resp.Status, len(body))
	}
}

func TestLiveJSON(t *testing.T) {
	f := newFixture(t, map[string][]byte{"f": []byte("x")})
	f.met.SessionStarted("quic")
	resp, body := get(t, f.url+"/live.json")
	var v struct {
		Sessions map[string]int64 `json:"sessions"`
		Total    int64            `json:"sessions_total"`
		Rate     float64          `json:"bytes_per_second"`
	}
	if err := json.Unmarshal(body, &v); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/live.json: %s %s: %v", resp.Status, body, err)
	}
	if v.Sessions["quic"] != 1 || v.Total != 1 {
		t.Errorf("/live.json: %s; want one QUIC session", body)
	}
}
