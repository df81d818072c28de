package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/rtp-project/rtp/internal/rtpdtest"
	"github.com/rtp-project/rtp/rtpurl"
)

// need fails the test, loudly, when a tool `make deps` installs is missing.
func need(t *testing.T, tool, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		t.Fatalf("%s is needed for this test (Debian package %s; make deps installs it)", tool, pkg)
	}
	return p
}

// runTool runs a command with a time limit and returns its stdout; it
// fails the test on a non-zero exit.
func runTool(t *testing.T, limit time.Duration, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, tail(stdout.String()), tail(stderr.String()))
	}
	return stdout.Bytes()
}

func tail(s string) string {
	if len(s) > 4000 {
		return "…" + s[len(s)-4000:]
	}
	return s
}

// dumpDOM loads url in headless Chromium, lets its scripts run (up to 5 s
// of virtual time: the page's first refresh of the live figures), and
// returns the DOM as the browser holds it then.
func dumpDOM(t *testing.T, url string) string {
	t.Helper()
	chromium := need(t, "chromium", "chromium")
	args := []string{"--headless", "--disable-gpu", "--no-first-run", "--disable-extensions",
		"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=5000", "--dump-dom", url}
	if os.Geteuid() == 0 {
		args = append([]string{"--no-sandbox"}, args...) // Chromium refuses to run as root with its sandbox
	}
	return string(runTool(t, 2*time.Minute, chromium, args...))
}

// row is a file's row as the browser rendered it.
type row struct {
	path, rtp, gemini, sha256Link string
	copyButtons, hiddenButtons    int
}

// rows finds the page's file rows in dom, and whether the body carries the
// mark the live refresh leaves.
func rows(t *testing.T, dom string) (map[string]row, bool) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(dom))
	if err != nil {
		t.Fatal(err)
	}
	attr := func(n *html.Node, key string) (string, bool) {
		for _, a := range n.Attr {
			if a.Key == key {
				return a.Val, true
			}
		}
		return "", false
	}
	hasClass := func(n *html.Node, c string) bool {
		v, _ := attr(n, "class")
		return n.Type == html.ElementNode && strings.Contains(" "+v+" ", " "+c+" ")
	}
	found := map[string]row{}
	live := false
	var walk func(n *html.Node, r *row)
	walk = func(n *html.Node, r *row) {
		if n.Type == html.ElementNode && n.Data == "body" {
			_, live = attr(n, "data-live")
		}
		if n.Type == html.ElementNode && n.Data == "tr" && hasClass(n, "file") {
			p, _ := attr(n, "data-path")
			nr := row{path: p}
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				walk(c, &nr)
			}
			found[p] = nr
			return
		}
		if r != nil {
			switch {
			case n.Data == "a" && hasClass(n, "rtp-url"):
				r.rtp, _ = attr(n, "href")
			case n.Data == "a" && hasClass(n, "gemini-name"):
				r.gemini, _ = attr(n, "href")
			case n.Data == "a" && hasClass(n, "sha256"):
				r.sha256Link, _ = attr(n, "href")
			case n.Data == "button" && hasClass(n, "copy"):
				r.copyButtons++
				if _, h := attr(n, "hidden"); h {
					r.hiddenButtons++
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, r)
		}
	}
	walk(doc, nil)
	return found, live
}

// TestHTTPFaceInChromium is the acceptance 2: headless Chromium
// loads the listing page of a real rtpd and finds every file with its
// rtp: URL (and Gemini name, copy buttons shown by the script, live figures
// refreshed); curl's range requests get 206, the right bytes and the hash
// as ETag; and the rtp: URL the page gives downloads with rtpget.
func TestHTTPFaceInChromium(t *testing.T) {
	curl := need(t, "curl", "curl")
	blobs := t.TempDir()
	files := map[string][]byte{
		"pub/film.bin":         randomFile(t, filepath.Join(blobs, "pub", "film.bin"), 3<<20+17),
		"read me & <em>.txt":   randomFile(t, filepath.Join(blobs, "read me & <em>.txt"), 100),
		"deep/er/notes.md":     randomFile(t, filepath.Join(blobs, "deep", "er", "notes.md"), 4096),
		"empty":                randomFile(t, filepath.Join(blobs, "empty"), 0),
		"ünïcödé/日本語.txt":      randomFile(t, filepath.Join(blobs, "ünïcödé", "日本語.txt"), 10),
		"pub/same as film.bin": nil, // a second name for the same bytes
	}
	files["pub/same as film.bin"] = files["pub/film.bin"]
	os.WriteFile(filepath.Join(blobs, "pub", "same as film.bin"), files["pub/film.bin"], 0o644)
	s := rtpdtest.Start(t, blobs, "--index", filepath.Join(t.TempDir(), "index.db"),
		"--listen", "tcp!127.0.0.1!0", "--http", "tcp!127.0.0.1!0", "--gemini", "tcp!127.0.0.1!0", "--url-hash", "both")
	base := "http://" + address(t, s.HTTP[0])
	dial, _ := rtpurl.ParseDial(s.Dials[0])

	dom := dumpDOM(t, base+"/")
	found, live := rows(t, dom)
	if len(found) != len(files) {
		t.Errorf("the rendered page has %d file rows, want %d", len(found), len(files))
	}
	for name, data := range files {
		r, ok := found[name]
		if !ok {
			t.Errorf("no row for %q in the rendered page", name)
			continue
		}
		want := rtpurl.URL{Hashes: hashesOf(data), Length: int64(len(data)), Servers: []rtpurl.Dial{dial}, Name: filepath.Base(name)}
		if r.rtp != want.String() {
			t.Errorf("%s: rtp: URL\n%s\nwant\n%s", name, r.rtp, want.String())
		}
		if u, err := rtpurl.Parse(r.rtp); err != nil || u.Name != filepath.Base(name) {
			t.Errorf("%s: the page's rtp: URL does not parse back: %v", name, err)
		}
		if !strings.HasPrefix(r.gemini, "gemini+rtp://"+address(t, s.Gemini[0])+"/") {
			t.Errorf("%s: Gemini name %q", name, r.gemini)
		}
		if r.copyButtons != 2 || r.hiddenButtons != 0 {
			t.Errorf("%s: %d copy buttons, %d still hidden: the script did not run", name, r.copyButtons, r.hiddenButtons)
		}
	}
	if !live {
		t.Error("the body has no data-live mark: the live figures were never refreshed")
	}
	t.Logf("chromium --headless --dump-dom %s/: %d file rows, each with its rtp: URL, e.g. %s", base, len(found), found["pub/film.bin"].rtp)

	// curl: ranges of each kind of hash, with the hash as ETag.
	film := files["pub/film.bin"]
	hs := hashesOf(film)
	for _, h := range hs {
		url := fmt.Sprintf("%s/%s/%s", base, h.Kind, h.Hex())
		for _, rg := range []struct {
			spec   string
			lo, hi int
		}{{"1000-1999", 1000, 1999}, {"0-0", 0, 0}, {fmt.Sprintf("%d-", len(film)-5), len(film) - 5, len(film) - 1}} {
			out := filepath.Join(t.TempDir(), "part")
			hdr := string(runTool(t, time.Minute, curl, "-sS", "-D", "-", "-o", out, "-r", rg.spec, url))
			body, _ := os.ReadFile(out)
			status := strings.SplitN(hdr, "\r\n", 2)[0]
			if !strings.HasPrefix(status, "HTTP/1.1 206") {
				t.Errorf("curl -r %s %s: %s, want 206", rg.spec, url, status)
			}
			if etag := header(hdr, "Etag"); etag != `"`+h.Hex()+`"` {
				t.Errorf("curl -r %s %s: ETag %s, want \"%s\"", rg.spec, url, etag, h.Hex())
			}
			if cr := header(hdr, "Content-Range"); cr != fmt.Sprintf("bytes %d-%d/%d", rg.lo, rg.hi, len(film)) {
				t.Errorf("curl -r %s: Content-Range %q", rg.spec, cr)
			}
			if !bytes.Equal(body, film[rg.lo:rg.hi+1]) {
				t.Errorf("curl -r %s %s: %d bytes, not the file's %d-%d", rg.spec, url, len(body), rg.lo, rg.hi)
			}
			if rg.spec == "1000-1999" {
				t.Logf("curl -r %s %s -> %s, ETag %s, Content-Range %s, Cache-Control %s, %d bytes equal to the file's",
					rg.spec, url, status, header(hdr, "Etag"), header(hdr, "Content-Range"), header(hdr, "Cache-Control"), len(body))
			}
		}
	}
	// The link the page gives for the HTTP download, followed by curl.
	out := filepath.Join(t.TempDir(), "whole")
	hdr := string(runTool(t, time.Minute, curl, "-sS", "-D", "-", "-o", out, base+found["pub/film.bin"].sha256Link))
	if b, _ := os.ReadFile(out); !bytes.Equal(b, film) || !strings.Contains(header(hdr, "Content-Disposition"), "film.bin") {
		t.Errorf("curl of the page's sha256 link: %d bytes, Content-Disposition %q", len(b), header(hdr, "Content-Disposition"))
	}
	if code := curlStatus(t, curl, base+"/sha256/"+strings.Repeat("0", 64)); code != "404" {
		t.Errorf("an unknown hash: %s, want 404", code)
	}

	// The rtp: URL the browser saw downloads.
	dest := filepath.Join(t.TempDir(), "film.bin")
	if _, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, "-q", "-o", dest, found["pub/film.bin"].rtp); code != 0 {
		t.Fatalf("rtpget of the page's rtp: URL: exit %d: %s", code, stderr)
	}
	if b, _ := os.ReadFile(dest); !bytes.Equal(b, film) {
		t.Error("rtpget of the page's rtp: URL wrote other bytes")
	}
}

func header(hdr, name string) string {
	m := regexp.MustCompile(`(?im)^` + regexp.QuoteMeta(name) + `:\s*(.*?)\r?$`).FindStringSubmatch(hdr)
	if m == nil {
		return ""
	}
	return m[1]
}

func curlStatus(t *testing.T, curl, url string) string {
	t.Helper()
	return strings.TrimSpace(string(runTool(t, time.Minute, curl, "-s", "-o", "/dev/null", "-w", "%{http_code}", url)))
}

// TestAria2cFromTwoFaces is the acceptance 3: aria2c downloads one
// file from the HTTP faces of two rtpd processes at once, checks it with
// --checksum, and the file is exact; each face's metrics show its share.
// (With one connection per server aria2c leaves the second URI idle: its
// second connection starts before the length is known and finds no
// segment; two per server, split in four, uses both. The faces' bytes add
// up to more than the file: aria2c drops its first, whole-file response
// once the others have started.)
func TestAria2cFromTwoFaces(t *testing.T) {
	aria2c := need(t, "aria2c", "aria2")
	blobs := t.TempDir()
	data := randomFile(t, filepath.Join(blobs, "big.iso"), 24<<20+333)
	var urls []string
	var metrics []string
	for range 2 {
		s := rtpdtest.Start(t, blobs, "--index", filepath.Join(t.TempDir(), "index.db"),
			"--listen", "tcp!127.0.0.1!0", "--http", "tcp!127.0.0.1!0", "--metrics", "tcp!127.0.0.1!0")
		urls = append(urls, "http://"+address(t, s.HTTP[0])+"/sha256/"+hashesOf(data)[1].Hex())
		metrics = append(metrics, "http://"+address(t, s.Metrics[0])+"/metrics")
	}
	dir := t.TempDir()
	sum := hashesOf(data)[1].Hex()
	args := append([]string{"--checksum=sha-256=" + sum, "-d", dir, "-o", "big.iso",
		"--split=4", "--max-connection-per-server=2", "--min-split-size=1M",
		"--file-allocation=none", "--allow-overwrite=true", "--auto-file-renaming=false",
		"--summary-interval=0", "--console-log-level=warn", "--no-conf", "--check-certificate=false"}, urls...)
	out := runTool(t, 2*time.Minute, aria2c, args...)
	got, err := os.ReadFile(filepath.Join(dir, "big.iso"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("aria2c wrote %d bytes (%v), not the file's %d:\n%s", len(got), err, len(data), out)
	}
	var total float64
	var shares []string
	for i, m := range metrics {
		v := rtpdtest.Scrape(t, m)[`rtpd_http_blob_bytes_total`]
		if v <= 0 {
			t.Errorf("face %d sent no bytes: aria2c did not use both", i)
		}
		total += v
		shares = append(shares, fmt.Sprintf("%.0f", v))
	}
	if total < float64(len(data)) {
		t.Errorf("the faces sent %v bytes in all, less than the file's %d", total, len(data))
	}
	t.Logf("aria2c --checksum=sha-256=%s %s: exit 0, %d bytes, equal to the file; the faces sent %s bytes",
		sum, strings.Join(urls, " "), len(got), strings.Join(shares, " + "))
}

// TestHTTPSFaces: tls! dials serve the HTTP face and the metrics over
// HTTPS with rtpd's certificate (not RTP's ALPN), HTTP/2 included.
func TestHTTPSFaces(t *testing.T) {
	curl := need(t, "curl", "curl")
	blobs := t.TempDir()
	data := randomFile(t, filepath.Join(blobs, "f.bin"), 5000)
	s := rtpdtest.Start(t, blobs, "--index", filepath.Join(t.TempDir(), "index.db"), "--listen", "tcp!127.0.0.1!0",
		"--http", "tls!127.0.0.1!0", "--metrics", "tls!127.0.0.1!0")
	for _, c := range []struct{ url, want string }{
		{"https://" + address(t, s.HTTP[0]) + "/sha256/" + hashesOf(data)[1].Hex(), "200 2 5000"},
		{"https://" + address(t, s.Metrics[0]) + "/healthz", "200 2 3"},
	} {
		got := strings.TrimSpace(string(runTool(t, time.Minute, curl, "-sk", "-o", "/dev/null", "-w", "%{http_code} %{http_version} %{size_download}", c.url)))
		if got != c.want {
			t.Errorf("curl -k %s: %q, want %q (status, HTTP version, bytes)", c.url, got, c.want)
		}
	}
}

// address is host:port of a dial string that rtpd logged.
func address(t *testing.T, dial string) string {
	t.Helper()
	d, err := rtpurl.ParseDial(dial)
	if err != nil {
		t.Fatal(err)
	}
	return d.Address()
}
