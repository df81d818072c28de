package main

import (
	"bytes"
	"crypto/sha256"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/rtp-project/rtp/internal/rtpdtest"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/urn"
	"github.com/rtp-project/rtp/web"
)

// The writer's record is only as good as its hashes: every state a
// lineage reports must be the sha256 of the stream's prefix, through
// appends that cross chunk boundaries and truncations back into them.
func TestLineageSums(t *testing.T) {
	seed := [16]byte{1, 2, 3}
	full := make([]byte, 4*chunk)
	newStream(seed).at(full, 0)
	for _, off := range []int64{1, 15, 16, 17, chunk - 1, chunk + 5} {
		p := make([]byte, 50)
		newStream(seed).at(p, off)
		if !bytes.Equal(p, full[off:off+50]) {
			t.Fatalf("stream at %d differs from the stream read from 0", off)
		}
	}
	l := newLineage(seed)
	buf := make([]byte, chunk)
	check := func(what string, got [32]byte) {
		t.Helper()
		if want := sha256.Sum256(full[:l.size]); got != want {
			t.Fatalf("%s: size %d: sum %x, want %x", what, l.size, got, want)
		}
		if got != prefixSum(seed, l.size) {
			t.Fatalf("%s: size %d: prefixSum disagrees", what, l.size)
		}
	}
	for _, step := range []struct {
		grow  int64 // append this many bytes, or
		trunc int64 // with grow 0, truncate to this size
	}{
		{grow: 1000}, {grow: chunk}, {grow: 2 * chunk}, {trunc: chunk + 7}, {trunc: chunk},
		{grow: 300}, {trunc: 0}, {grow: 3*chunk + 100}, {trunc: 2*chunk - 1},
	} {
		if step.grow == 0 {
			check("truncate", l.truncate(step.trunc))
			continue
		}
		for left := step.grow; left > 0; {
			p, sum := l.next(buf, left)
			if !bytes.Equal(p, full[l.size-int64(len(p)):l.size]) {
				t.Fatalf("next at %d: wrong bytes", l.size-int64(len(p)))
			}
			check("append", sum)
			left -= int64(len(p))
		}
	}
}

// The soak reads the HTTP face's page; this serves the real page from a
// real index and parses it.
func TestParseListing(t *testing.T) {
	dir := t.TempDir()
	files := map[string][]byte{
		"a.bin":                  []byte("hello"),
		"sub/deep/f00001 v2.bin": bytes.Repeat([]byte{7}, 70000),
		"empty":                  nil,
	}
	for p, b := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, p), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	disk := rtpdtest.IndexedDisk(t, dir)
	dial, _ := rtpurl.ParseDial("tcp!127.0.0.1!7777")
	srv := httptest.NewServer(web.New(web.Config{Store: disk, Index: disk, Advertise: []rtpurl.Dial{dial}, URNs: []urn.Kind{urn.BLAKE3, urn.SHA256}}))
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	got, err := parseListing(page)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(files) {
		t.Fatalf("parsed %d rows, want %d: %v", len(got), len(files), got)
	}
	for p, b := range files {
		e, ok := got[p]
		if !ok {
			t.Errorf("%q not parsed", p)
			continue
		}
		want := sha256.Sum256(b)
		u, sum, err := sha256Of(e.url)
		switch {
		case err != nil:
			t.Errorf("%q: its rtp: URL %q: %v", p, e.url, err)
		case e.sha256 != want || sum != want || e.size != int64(len(b)) || u.Length != int64(len(b)):
			t.Errorf("%q: parsed sha256 %x, URL's %x, size %d, URL's %d; want %x, %d", p, e.sha256, sum, e.size, u.Length, want, len(b))
		}
	}
	if _, err := parseListing([]byte("<html>something else</html>")); err == nil {
		t.Error("a page with no rows and no 'No files yet' parsed")
	}
}
