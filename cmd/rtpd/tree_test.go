package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rtp-project/rtp/collection"
	"github.com/rtp-project/rtp/internal/rtpdtest"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/urn"
)

// treeFile is a file of the test trees.
type treeFile struct {
	path, content string
	mode          os.FileMode
}

// writeTree writes files under dir and returns the manifest of the folder
// sub, encoded from the contents (not from rtpd).
func writeTree(t *testing.T, dir, sub string, files []treeFile) []byte {
	t.Helper()
	var es []collection.Entry
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.path))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(f.content), f.mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, f.mode)
		rel, ok := strings.CutPrefix(f.path, sub+"/")
		if !ok {
			continue
		}
		s, _ := urn.HashReader(strings.NewReader(f.content), nil)
		es = append(es, collection.Entry{Path: rel, Size: s.N, Exec: f.mode&0o100 != 0, BLAKE3: s.BLAKE3, SHA256: s.SHA256})
	}
	m, err := collection.Encode(es)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var llama = []treeFile{
	{"models/llama/config.json", "{\"layers\": 2}\n", 0o644},
	{"models/llama/run.sh", "#!/bin/sh\necho run\n", 0o755},
	{"models/llama/shards/0001.bin", strings.Repeat("shard", 5000), 0o644},
	{"models/llama/empty", "", 0o644},
	{"models/other.txt", "not in the tree", 0o644},
}

// TestURLTree: rtpd url --tree, run beside a serving rtpd process, prints
// one URL for the folder (t= and dn=, the manifest's urns and length), and
// that rtpd then serves the manifest: rtpget fetches it as a plain file,
// byte for byte the manifest encoded from the files. Without an index
// folder above, it exits 1 saying what to do.
func TestURLTree(t *testing.T) {
	dir := t.TempDir()
	want := writeTree(t, dir, "models/llama", llama)
	srv := rtpdtest.Start(t, dir, "--listen", "tcp!127.0.0.1!0")

	out, stderr, code := rtpdtest.Run(t, rtpdtest.RTPD, "url", "--tree", "--server", srv.Dials[0], filepath.Join(dir, "models", "llama"))
	if code != 0 {
		t.Fatalf("rtpd url --tree: exit %d: %s", code, stderr)
	}
	u, err := rtpurl.Parse(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("rtpd url --tree printed %q: %v", out, err)
	}
	sums, _ := urn.HashReader(bytes.NewReader(want), nil)
	if !collection.IsCollection(u.Types) || u.Name != "llama" || u.Length != int64(len(want)) ||
		len(u.Hashes) != 1 || u.Hashes[0] != sums.Hashes()[0] {
		t.Fatalf("rtpd url --tree: %s\nwant the urn %v, length %d, t=%s, dn=llama", out, sums.Hashes()[0], len(want), collection.MediaType)
	}
	kept, err := os.ReadFile(filepath.Join(dir, ".rtpd", "collections", "blake3-"+sums.Hashes()[0].Hex()))
	if err != nil || !bytes.Equal(kept, want) {
		t.Fatalf("the kept manifest: %v\n%s\nwant\n%s", err, kept, want)
	}

	// The manifest as a plain file (no t=), from the running rtpd.
	plain := *u
	plain.Types = nil
	dest := filepath.Join(t.TempDir(), "manifest")
	if _, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, "-q", "-o", dest, plain.String()); code != 0 {
		t.Fatalf("rtpget of the manifest: exit %d: %s\nrtpd log:\n%s", code, stderr, srv.Log())
	}
	got, _ := os.ReadFile(dest)
	if !bytes.Equal(got, want) {
		t.Fatalf("fetched manifest:\n%s\nwant\n%s", got, want)
	}

	// A folder no rtpd index lies above.
	lone := t.TempDir()
	os.WriteFile(filepath.Join(lone, "f"), []byte("x"), 0o644)
	_, stderr, code = rtpdtest.Run(t, rtpdtest.RTPD, "url", "--tree", lone)
	if code != 1 || !strings.Contains(stderr, "start rtpd serve first, or give --index") {
		t.Errorf("no index above: exit %d: %s", code, stderr)
	}
	// --index names where the manifest goes.
	idx := filepath.Join(t.TempDir(), "index.db")
	if _, stderr, code = rtpdtest.Run(t, rtpdtest.RTPD, "url", "--tree", "--index", idx, lone); code != 0 {
		t.Fatalf("--index: exit %d: %s", code, stderr)
	}
	if des, _ := os.ReadDir(filepath.Join(filepath.Dir(idx), "collections")); len(des) != 2 {
		t.Errorf("--index: %d files in its collections folder, want 2 (both names)", len(des))
	}
	_, stderr, code = rtpdtest.Run(t, rtpdtest.RTPD, "url", "--tree", lone, lone)
	if code != 2 {
		t.Errorf("two folders: exit %d, want 2: %s", code, stderr)
	}
}

// TestURLTreeServedOnly: rtpd url --tree lists what the serving rtpd
// serves and nothing else, by the rules of its index pass: not a private
// key, not a symlink out of the served folder (to a secret or to
// /etc/passwd), not a dot-file; a symlink to a served file elsewhere in the
// served folder is listed. rtpget then fetches the whole tree, which it
// could not while the manifest listed files rtpd refuses.
func TestURLTreeServedOnly(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, "models/llama", llama)
	outside := filepath.Join(t.TempDir(), "secret.txt")
	os.WriteFile(outside, []byte("a secret beside the served folder"), 0o644)
	sub := filepath.Join(dir, "models", "llama")
	os.Symlink(outside, filepath.Join(sub, "link-out"))
	os.Symlink("/etc/passwd", filepath.Join(sub, "passwd-link"))
	os.Symlink("../other.txt", filepath.Join(sub, "link-in"))
	os.Mkdir(filepath.Join(sub, "keys"), 0o755)
	key := "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ0PH6qQ0yZEqE1bmO3x5m8pW3P4r1k9XfV0oX1t9lZc\n-----END PRIVATE KEY-----\n"
	os.WriteFile(filepath.Join(sub, "keys", "server.key"), []byte(key), 0o600)
	os.WriteFile(filepath.Join(sub, ".env"), []byte("TOKEN=x\n"), 0o600)
	srv := rtpdtest.Start(t, dir, "--listen", "tcp!127.0.0.1!0")

	out, stderr, code := rtpdtest.Run(t, rtpdtest.RTPD, "url", "--tree", "--server", srv.Dials[0], sub)
	if code != 0 {
		t.Fatalf("rtpd url --tree: exit %d: %s", code, stderr)
	}
	u, err := rtpurl.Parse(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("rtpd url --tree printed %q: %v", out, err)
	}
	kept, err := os.ReadFile(filepath.Join(dir, ".rtpd", "collections", "blake3-"+u.Hashes[0].Hex()))
	if err != nil {
		t.Fatal(err)
	}
	m, err := collection.Parse(bytes.NewReader(kept), collection.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, e := range m.Entries {
		paths = append(paths, e.Path)
	}
	want := []string{"config.json", "empty", "link-in", "run.sh", "shards/0001.bin"}
	if strings.Join(paths, " ") != strings.Join(want, " ") {
		t.Errorf("the manifest lists %q, want %q", paths, want)
	}
	for _, w := range []string{"link-out", "passwd-link", "keys/server.key"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("no warning names %s: %s", w, stderr)
		}
	}

	dest := filepath.Join(t.TempDir(), "llama")
	if _, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, "-q", "-o", dest, u.String()); code != 0 {
		t.Fatalf("rtpget of the tree: exit %d: %s\nrtpd log:\n%s", code, stderr, srv.Log())
	}
	if b, err := os.ReadFile(filepath.Join(dest, "link-in")); err != nil || string(b) != "not in the tree" {
		t.Errorf("link-in: %q, %v", b, err)
	}
}
