package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"lukechampine.com/blake3"

	"github.com/rtp-project/rtp/collection"
	"github.com/rtp-project/rtp/internal/rtpdtest"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/urn"
)

// srcTree is a folder tree served by rtpd, with its manifest beside it
// (a file of the served folder, so rtpd serves it by hash like any other).
type srcTree struct {
	served string // the folder rtpd serves: tree/ and manifests/
	files  map[string][]byte
	exec   map[string]bool
}

func newSrcTree(t *testing.T) *srcTree {
	return &srcTree{served: t.TempDir(), files: map[string][]byte{}, exec: map[string]bool{}}
}

func (s *srcTree) put(t *testing.T, p string, data []byte) {
	t.Helper()
	full := filepath.Join(s.served, "tree", filepath.FromSlash(p))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, data, 0o644); err != nil {
		t.Fatal(err)
	}
	s.files[p] = data
}

// fill adds n files of random sizes up to max bytes (some repeated
// contents, some empty), in nested folders, from seed.
func (s *srcTree) fill(t *testing.T, n, maxSize int, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 1))
	var prev []byte
	for i := range n {
		p := fmt.Sprintf("d%d/e%d/f%04d.bin", i%3, i%7, i)
		var data []byte
		switch {
		case i%17 == 0 && prev != nil:
			data = prev // the same content at another path
		case i%23 == 0:
			data = nil
		default:
			data = make([]byte, r.IntN(maxSize+1))
			for j := range data {
				data[j] = byte(r.Uint32())
			}
		}
		s.put(t, p, data)
		prev = data
	}
}

func entryOf(p string, data []byte, exec bool) collection.Entry {
	return collection.Entry{Path: p, Size: int64(len(data)), Exec: exec, BLAKE3: blake3.Sum256(data), SHA256: sha256.Sum256(data)}
}

// manifest writes the manifest of the tree as it is now into the served
// folder and returns its URL (without servers).
func (s *srcTree) manifest(t *testing.T, name string) *rtpurl.URL {
	t.Helper()
	var es []collection.Entry
	for p, d := range s.files {
		es = append(es, entryOf(p, d, s.exec[p]))
	}
	b, err := collection.Encode(es)
	if err != nil {
		t.Fatal(err)
	}
	return s.rawManifest(t, name, b)
}

// rawManifest serves any bytes as a manifest.
func (s *srcTree) rawManifest(t *testing.T, name string, b []byte) *rtpurl.URL {
	t.Helper()
	dir := filepath.Join(s.served, "manifests")
	os.MkdirAll(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%x", sha256.Sum256(b))), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return &rtpurl.URL{
		Hashes: []urn.Hash{urn.New(urn.BLAKE3, blake3.Sum256(b)), urn.New(urn.SHA256, sha256.Sum256(b))},
		Length: int64(len(b)), Types: []string{collection.MediaType}, Name: name,
	}
}

// serve starts rtpd over tcp, tls and quic on the served folder; a new
// manifest written later is found by rtpd's rescan on OPEN of an unknown
// hash, so start servers after writing the manifests a test needs.
func (s *srcTree) serve(t *testing.T, n int) []*rtpdtest.Server {
	var srvs []*rtpdtest.Server
	protos := []string{"tcp", "tls", "quic"}
	for i := range n {
		srvs = append(srvs, rtpdtest.Start(t, s.served, "--index", filepath.Join(t.TempDir(), "index.db"),
			"--listen", protos[i%3]+"!127.0.0.1!0"))
	}
	return srvs
}

// getTree runs rtpget --json on a tree URL and returns its summary.
func getTree(t *testing.T, url string, args ...string) (treeSummary, string, int) {
	t.Helper()
	stdout, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, append(append([]string{"--json", "-k"}, args...), url)...)
	var s treeSummary
	if code != 2 && stdout != "" {
		if err := json.Unmarshal([]byte(stdout), &s); err != nil {
			t.Fatalf("summary %q: %v (stderr %s)", stdout, err, stderr)
		}
	}
	return s, stderr, code
}

// sameTree compares the target with want, as diff -r would: every file
// with its bytes and mode, and nothing else but rtpget's folder.
func sameTree(t *testing.T, dir string, want map[string][]byte, exec map[string]bool) {
	t.Helper()
	got := map[string]bool{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if rel == stateDir {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return nil
		}
		got[rel] = true
		data, ok := want[rel]
		if !ok {
			t.Errorf("%s: not in the tree", rel)
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(b, data) {
			t.Errorf("%s: %d bytes differ from the %d wanted (%v)", rel, len(b), len(data), err)
		}
		fi, _ := d.Info()
		if x := fi.Mode().Perm()&0o100 != 0; x != exec[rel] {
			t.Errorf("%s: executable %v, want %v", rel, x, exec[rel])
		}
		return nil
	})
	for p := range want {
		if !got[p] {
			t.Errorf("%s: missing", p)
		}
	}
}

func TestTreeRoundTrip(t *testing.T) {
	src := newSrcTree(t)
	src.fill(t, 300, 64<<10, 1)
	big := make([]byte, 48<<20) // past the lanes: a swarm, long enough for every server to take blocks
	for i := range big {
		big[i] = byte(i * 7)
	}
	src.put(t, "models/big.bin", big)
	src.put(t, "copy of big.bin", big)
	src.put(t, "run.sh", []byte("#!/bin/sh\necho hi\n"))
	src.exec["run.sh"] = true
	src.put(t, "with space/ünïcode name.txt", []byte("x"))
	u := src.manifest(t, "mytree")
	srvs := src.serve(t, 3)
	out := t.TempDir()
	s, stderr, code := getTree(t, addServers(u, srvs...), "-C", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	sameTree(t, filepath.Join(out, "mytree"), src.files, src.exec)
	var total int64
	for _, d := range src.files {
		total += int64(len(d))
	}
	if s.Files != len(src.files) || s.Bytes != total || s.Placed != len(src.files) || s.Failed != 0 {
		t.Errorf("summary %+v", s)
	}
	// Every server took part, and the shared contents crossed once:
	// fetched bytes are under the tree's bytes.
	for _, sv := range s.Servers {
		if sv.Bytes == 0 {
			t.Errorf("server %s sent nothing: %+v", sv.Server, s.Servers)
		}
	}
	if s.FetchedBytes >= total || s.Copied == 0 {
		t.Errorf("fetched %d of %d bytes, %d copies: identical contents were fetched more than once", s.FetchedBytes, total, s.Copied)
	}
	// Nor were blocks of the big file fetched twice in a race: its swarm
	// copies a block in flight only from a session that stalled (patient
	// endgame), so the fetched bytes are the distinct contents' bytes.
	distinct := map[string]int64{}
	for _, d := range src.files {
		distinct[string(d)] = int64(len(d))
	}
	var want int64
	for _, n := range distinct {
		want += n
	}
	t.Logf("fetched %d bytes, distinct contents %d", s.FetchedBytes, want)
	if s.FetchedBytes > want+1<<20 {
		t.Errorf("fetched %d bytes for %d bytes of distinct contents: more than one stalled block's copy", s.FetchedBytes, want)
	}
	// A second run fetches nothing: every file is trusted by its record.
	s2, stderr, code := getTree(t, addServers(u, srvs...), "-C", out)
	if code != 0 || s2.FetchedBytes != 0 || s2.Present != len(src.files) {
		t.Errorf("rerun: exit %d, %+v, %s", code, s2, stderr)
	}
}

// randomFiles puts n files of distinct random bytes (up to max bytes) under
// prefix and returns their paths.
func (s *srcTree) randomFiles(t *testing.T, prefix string, n, maxSize int, seed uint64) []string {
	r := rand.New(rand.NewPCG(seed, 7))
	var ps []string
	for i := range n {
		data := make([]byte, 1+r.IntN(maxSize))
		for j := range data {
			data[j] = byte(r.Uint32())
		}
		p := fmt.Sprintf("%s/g%d/r%03d.dat", prefix, i%4, i)
		s.put(t, p, data)
		ps = append(ps, p)
	}
	return ps
}

// copyServed makes a second served folder holding the manifests and only
// the tree files keep says.
func (s *srcTree) copyServed(t *testing.T, keep func(string) bool) *srcTree {
	c := newSrcTree(t)
	ms, _ := os.ReadDir(filepath.Join(s.served, "manifests"))
	os.MkdirAll(filepath.Join(c.served, "manifests"), 0o755)
	for _, m := range ms {
		b, _ := os.ReadFile(filepath.Join(s.served, "manifests", m.Name()))
		os.WriteFile(filepath.Join(c.served, "manifests", m.Name()), b, 0o644)
	}
	for p, d := range s.files {
		if keep(p) {
			c.put(t, p, d)
		}
	}
	return c
}

func TestTreeResume(t *testing.T) {
	src := newSrcTree(t)
	ps := src.randomFiles(t, "data", 40, 100<<10, 2)
	u := src.manifest(t, "resumed")
	// The first run's only server lacks a quarter of the files.
	missing := map[string]bool{}
	var missingBytes int64
	for i, p := range ps {
		if i%4 == 1 {
			missing[p] = true
			missingBytes += int64(len(src.files[p]))
		}
	}
	partial := src.copyServed(t, func(p string) bool { return !missing[p] })
	out := t.TempDir()
	s, stderr, code := getTree(t, addServers(u, partial.serve(t, 1)...), "-C", out)
	if code != 1 || s.Failed != len(missing) || s.Placed != len(ps)-len(missing) {
		t.Fatalf("first run: exit %d, %+v, %s", code, s, stderr)
	}
	if !strings.Contains(stderr, "not found") {
		t.Errorf("stderr does not say why: %s", stderr)
	}
	// The rerun, with every file served, fetches exactly the missing ones.
	s, stderr, code = getTree(t, addServers(u, src.serve(t, 2)...), "-C", out)
	if code != 0 {
		t.Fatalf("rerun: exit %d, %s", code, stderr)
	}
	if s.FetchedBytes != missingBytes || s.Fetched != len(missing) || s.Present != len(ps)-len(missing) {
		t.Errorf("rerun fetched %d files, %d bytes, %d present; want %d, %d, %d", s.Fetched, s.FetchedBytes, s.Present, len(missing), missingBytes, len(ps)-len(missing))
	}
	sameTree(t, filepath.Join(out, "resumed"), src.files, src.exec)
}

func TestTreeUpdateAndDelete(t *testing.T) {
	v1 := newSrcTree(t)
	ps := v1.randomFiles(t, "m", 60, 50<<10, 3)
	u1 := v1.manifest(t, "model")
	out := t.TempDir()
	if _, stderr, code := getTree(t, addServers(u1, v1.serve(t, 1)...), "-C", out); code != 0 {
		t.Fatalf("v1: exit %d, %s", code, stderr)
	}
	target := filepath.Join(out, "model")
	// v2: 10 files changed, 5 added, 3 removed.
	v2 := v1.copyServed(t, func(string) bool { return true })
	var changedBytes int64
	for i, p := range ps[:10] {
		d := append([]byte(fmt.Sprintf("v2 of %d ", i)), v1.files[p]...)
		v2.put(t, p, d)
		changedBytes += int64(len(d))
	}
	for _, p := range v2.randomFiles(t, "new", 5, 20<<10, 4) {
		changedBytes += int64(len(v2.files[p]))
	}
	for _, p := range ps[57:] {
		delete(v2.files, p)
		os.Remove(filepath.Join(v2.served, "tree", p))
	}
	u2 := v2.manifest(t, "model")
	// Something the user keeps in the target, and a link to outside it.
	outside := filepath.Join(t.TempDir(), "keep.txt")
	os.WriteFile(outside, []byte("mine"), 0o644)
	os.Symlink(outside, filepath.Join(target, "link-out"))
	srvs := v2.serve(t, 2)
	s, stderr, code := getTree(t, addServers(u2, srvs...), "-C", out)
	if code != 0 {
		t.Fatalf("v2: exit %d, %s", code, stderr)
	}
	if s.Fetched != 15 || s.FetchedBytes != changedBytes || s.Present != 60-10-3 || s.Deleted != 0 {
		t.Errorf("update fetched %d files, %d bytes (want 15, %d), %d present, %d deleted", s.Fetched, s.FetchedBytes, changedBytes, s.Present, s.Deleted)
	}
	for _, p := range ps[57:] {
		if _, err := os.Stat(filepath.Join(target, p)); err != nil {
			t.Errorf("%s was deleted without --delete: %v", p, err)
		}
	}
	// --delete: the 3 old files and the link go, nothing else.
	s, stderr, code = getTree(t, addServers(u2, srvs...), "-C", out, "--delete")
	if code != 0 || s.Deleted != 4 || s.FetchedBytes != 0 {
		t.Fatalf("--delete: exit %d, %+v, %s", code, s, stderr)
	}
	sameTree(t, target, v2.files, v2.exec)
	if b, err := os.ReadFile(outside); err != nil || string(b) != "mine" {
		t.Errorf("the file outside the target: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(target, stateDir, "state.json")); err != nil {
		t.Errorf("--delete touched rtpget's folder: %v", err)
	}
}

func TestTreeIncludeExclude(t *testing.T) {
	src := newSrcTree(t)
	src.put(t, "config.json", []byte(`{}`))
	src.put(t, "a/b/weights.json", []byte(`{"w":1}`))
	src.put(t, "a/b/w.bin", []byte("bin"))
	src.put(t, "docs/x.json", []byte(`{"d":1}`))
	src.put(t, "docs/readme", []byte("read me"))
	u := src.manifest(t, "part")
	out := t.TempDir()
	url := addServers(u, src.serve(t, 1)...)
	s, stderr, code := getTree(t, url, "-C", out, "--include", "*.json", "--exclude", "docs/")
	if code != 0 || s.Selected != 2 || s.Skipped != 3 || s.SelectedBytes != 9 {
		t.Fatalf("exit %d, %+v, %s", code, s, stderr)
	}
	want := map[string][]byte{"config.json": src.files["config.json"], "a/b/weights.json": src.files["a/b/weights.json"]}
	sameTree(t, filepath.Join(out, "part"), want, nil)
	// The last line counts the files and bytes selected, against the
	// tree's, not the selected files against the tree's bytes.
	_, stderr, code = rtpdtest.Run(t, rtpdtest.RTPGet, "-k", "-C", out, "--include", "*.json", "--exclude", "docs/", url)
	if code != 0 || !strings.Contains(stderr, "2 of 5 files, 9 B of 26 B (--include/--exclude)") {
		t.Errorf("exit %d, last line %q: want 2 of 5 files, 9 B of 26 B", code, stderr)
	}
}

func TestTreeSymlinksPlanted(t *testing.T) {
	src := newSrcTree(t)
	src.put(t, "ok/a.txt", []byte("a"))
	src.put(t, "via/b.txt", []byte("b"))
	src.put(t, "c.txt", []byte("c"))
	u := src.manifest(t, "t")
	srvs := src.serve(t, 1)
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "c.txt"), []byte("outside"), 0o644)
	out := t.TempDir()
	target := filepath.Join(out, "t")
	os.MkdirAll(target, 0o755)
	os.Symlink(outside, filepath.Join(target, "via"))                           // a folder on the way
	os.Symlink(filepath.Join(outside, "c.txt"), filepath.Join(target, "c.txt")) // a final name
	s, stderr, code := getTree(t, addServers(u, srvs...), "-C", out)
	if code != 1 || s.Failed != 2 || s.Placed != 1 {
		t.Fatalf("exit %d, %+v, %s", code, s, stderr)
	}
	if !strings.Contains(strings.Join(s.Errors, "\n"), "symbolic link") {
		t.Errorf("errors do not name the link: %v", s.Errors)
	}
	ents, _ := os.ReadDir(outside)
	if len(ents) != 1 {
		t.Errorf("written outside the target: %v", ents)
	}
	if b, _ := os.ReadFile(filepath.Join(outside, "c.txt")); string(b) != "outside" {
		t.Errorf("the file a link points to was changed: %q", b)
	}
	// rtpget's own folder as a link: refused before anything is written.
	out2 := t.TempDir()
	os.MkdirAll(filepath.Join(out2, "t"), 0o755)
	os.Symlink(outside, filepath.Join(out2, "t", stateDir))
	if _, stderr, code := getTree(t, addServers(u, srvs...), "-C", out2); code != 1 || !strings.Contains(stderr, "symbolic link") {
		t.Errorf(".rtpget as a link: exit %d, %s", code, stderr)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 1 {
		t.Errorf("written outside the target: %v", ents)
	}
	// A link where rtpget once wrote its state before renaming it, to a
	// file of the user's in the target: the file is not written.
	out3 := t.TempDir()
	target3 := filepath.Join(out3, "t")
	os.MkdirAll(filepath.Join(target3, stateDir), 0o755)
	os.WriteFile(filepath.Join(target3, "notes.txt"), []byte("my notes"), 0o644)
	os.Symlink("../notes.txt", filepath.Join(target3, stateDir, "state.json.tmp"))
	if _, stderr, code := getTree(t, addServers(u, srvs...), "-C", out3); code != 0 {
		t.Errorf("a link at the old state.json.tmp: exit %d, %s", code, stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(target3, "notes.txt")); string(b) != "my notes" {
		t.Errorf("the user's file the link points to was written: %q", b)
	}
}

func TestTreeHostileManifests(t *testing.T) {
	src := newSrcTree(t)
	src.put(t, "x", []byte("x"))
	h := func(data string) string {
		e := entryOf("", []byte(data), false)
		return fmt.Sprintf("%x %x", e.BLAKE3, e.SHA256)
	}
	cases := map[string]string{
		"dotdot":        "rtp-collection 1 1 1\nf 1 " + h("x") + " ../x\n",
		"absolute":      "rtp-collection 1 1 1\nf 1 " + h("x") + " /etc/x\n",
		"file+folder":   "rtp-collection 1 2 2\nf 1 " + h("x") + " a\nf 1 " + h("x") + " a/b\n",
		"duplicate":     "rtp-collection 1 2 2\nf 1 " + h("x") + " a\nf 1 " + h("x") + " a\n",
		"control":       "rtp-collection 1 1 1\nf 1 " + h("x") + " a\x1bb\n",
		"10M entries":   "rtp-collection 1 10000000 1\nf 1 " + h("x") + " a\n",
		"size overflow": "rtp-collection 1 2 0\nf 4611686018427387904 " + h("x") + " a\nf 4611686018427387904 " + h("x") + " b\n",
	}
	urls := map[string]*rtpurl.URL{}
	for name, m := range cases {
		urls[name] = src.rawManifest(t, "evil", []byte(m))
	}
	srvs := src.serve(t, 1)
	for name, u := range urls {
		t.Run(name, func(t *testing.T) {
			out := t.TempDir()
			_, stderr, code := getTree(t, addServers(u, srvs...), "-C", out)
			if code != 1 || !strings.Contains(stderr, "refused") {
				t.Errorf("exit %d, %s", code, stderr)
			}
			if ents, _ := os.ReadDir(out); len(ents) != 0 {
				t.Errorf("created %v", ents)
			}
		})
	}
}

func TestTreeBadUsage(t *testing.T) {
	src := newSrcTree(t)
	src.put(t, "x", []byte("x"))
	u := src.manifest(t, "")
	noL := *u
	noL.Length = -1
	big := *u
	big.Length = 1 << 40
	const srv = "&s=tcp!127.0.0.1!1"
	for name, args := range map[string][]string{
		"no dn, no -o":         {u.String() + srv},
		"no l":                 {"-o", "x", noL.String() + srv},
		"l too big":            {"-o", "x", big.String() + srv},
		"stdout":               {"-o", "-", u.String() + srv},
		"bad glob":             {"-o", "x", "--include", "[", u.String() + srv},
		"force and no-clobber": {"--force", "--no-clobber", "-o", "x", u.String() + srv},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			_, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, append([]string{"-C", dir}, args...)...)
			if code != 2 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("exit %d, want 2 and one line: %s", code, stderr)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("created %v", ents)
			}
		})
	}
}

// TestTreeKeepsOtherFiles: a file of the user's own at a path of the tree,
// holding other bytes, is not replaced (that path fails, exit 1, the rest
// is placed), as a single download keeps another file at its output name;
// --force replaces it. A file the user changed after rtpget placed it is
// kept the same way.
func TestTreeKeepsOtherFiles(t *testing.T) {
	src := newSrcTree(t)
	src.put(t, "notes.txt", []byte("the tree's notes"))
	src.put(t, "same-size.txt", []byte("0123456789"))
	src.put(t, "a/data.bin", []byte("data"))
	u := src.manifest(t, "keep")
	url := addServers(u, src.serve(t, 1)...)
	out := t.TempDir()
	target := filepath.Join(out, "keep")
	mine := map[string]string{"notes.txt": "my own notes, longer than the tree's", "same-size.txt": "abcdefghij"}
	for p, b := range mine {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(target, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(target, p), []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, stderr, code := getTree(t, url, "-C", out)
	if code != 1 || s.Failed != 2 || s.Placed != 1 || !strings.Contains(stderr, "not replaced; --force replaces it") {
		t.Fatalf("exit %d, %+v, %s", code, s, stderr)
	}
	for p, b := range mine {
		if got, _ := os.ReadFile(filepath.Join(target, p)); string(got) != b {
			t.Errorf("%s was replaced: %q", p, got)
		}
	}
	s, stderr, code = getTree(t, url, "-C", out, "--force")
	if code != 0 || s.Fetched != 2 {
		t.Fatalf("--force: exit %d, %+v, %s", code, s, stderr)
	}
	sameTree(t, target, src.files, nil)

	// Changed by the user after rtpget placed it: kept too.
	if err := os.WriteFile(filepath.Join(target, "a/data.bin"), []byte("edited by hand"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, stderr, code = getTree(t, url, "-C", out)
	if code != 1 || s.Failed != 1 {
		t.Fatalf("after an edit: exit %d, %+v, %s", code, s, stderr)
	}
	if got, _ := os.ReadFile(filepath.Join(target, "a/data.bin")); string(got) != "edited by hand" {
		t.Errorf("an edited file was replaced: %q", got)
	}
}

// TestTreeInListRerun: a list (-i) holding a tree URL and a file URL runs
// again, as an interrupted list must: the tree's folder from the first run
// is resumed, not refused as a name already taken.
func TestTreeInListRerun(t *testing.T) {
	src := newSrcTree(t)
	src.put(t, "a/x.txt", []byte("x"))
	src.put(t, "y.txt", []byte("yy"))
	tu := src.manifest(t, "lt")
	srvs := src.serve(t, 1)
	list := filepath.Join(t.TempDir(), "list")
	fu := *tu
	fu.Types, fu.Name = nil, "manifest.txt" // the manifest itself, as a file
	os.WriteFile(list, []byte(addServers(tu, srvs...)+"\n"+addServers(&fu, srvs...)+"\n"), 0o644)
	out := t.TempDir()
	for run := 1; run <= 2; run++ {
		if _, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, "-k", "-q", "-i", list, "-C", out); code != 0 {
			t.Fatalf("run %d: exit %d, %s", run, code, stderr)
		}
	}
	sameTree(t, filepath.Join(out, "lt"), src.files, nil)
}

// TestTreeModeKeptPrivate: a file of the user's own with the tree's bytes
// gets the manifest's x bit where it is readable, and no other bit: a
// file kept 0600 becomes 0700 (executable in the tree), not 0755, and one
// kept 0700 that is not executable in the tree becomes 0600.
func TestTreeModeKeptPrivate(t *testing.T) {
	src := newSrcTree(t)
	src.put(t, "run.sh", []byte("#!/bin/sh\n"))
	src.exec["run.sh"] = true
	src.put(t, "data.txt", []byte("data"))
	u := src.manifest(t, "m")
	out := t.TempDir()
	target := filepath.Join(out, "m")
	os.MkdirAll(target, 0o755)
	for p, mode := range map[string]os.FileMode{"run.sh": 0o600, "data.txt": 0o700} {
		os.WriteFile(filepath.Join(target, p), src.files[p], mode)
		os.Chmod(filepath.Join(target, p), mode)
	}
	if _, stderr, code := getTree(t, addServers(u, src.serve(t, 1)...), "-C", out); code != 0 {
		t.Fatalf("exit %d, %s", code, stderr)
	}
	for p, want := range map[string]os.FileMode{"run.sh": 0o700, "data.txt": 0o600} {
		if fi, err := os.Stat(filepath.Join(target, p)); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v (%v), want %v", p, fi.Mode().Perm(), err, want)
		}
	}
}

// TestTreeReusesVerifiedPart: a big file's verified part left in the parts
// folder (a run that fetched it and could not place it, or was killed in
// between) is checked and placed, not fetched again; a part with the wrong
// bytes is fetched again.
func TestTreeReusesVerifiedPart(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	src := newSrcTree(t)
	good, bad := randomBytes(r, smallMax+1<<20), randomBytes(r, smallMax+1<<20)
	src.put(t, "good.bin", good)
	src.put(t, "bad.bin", bad)
	src.put(t, "small.txt", []byte("small"))
	u := src.manifest(t, "r")
	out := t.TempDir()
	parts := filepath.Join(out, "r", partsDir)
	os.MkdirAll(parts, 0o755)
	os.WriteFile(filepath.Join(parts, fmt.Sprintf("%x", blake3.Sum256(good))), good, 0o644)
	wrong := slices.Clone(bad)
	wrong[1000] ^= 1
	os.WriteFile(filepath.Join(parts, fmt.Sprintf("%x", blake3.Sum256(bad))), wrong, 0o644)
	s, stderr, code := getTree(t, addServers(u, src.serve(t, 1)...), "-C", out)
	if code != 0 {
		t.Fatalf("exit %d, %s", code, stderr)
	}
	sameTree(t, filepath.Join(out, "r"), src.files, nil)
	if max := int64(len(bad) + 1<<20); s.FetchedBytes < int64(len(bad)) || s.FetchedBytes > max {
		t.Errorf("fetched %d bytes, want the bad part's %d and the small file's (plus the manifest), not the good part's %d", s.FetchedBytes, len(bad), len(good))
	}
}

// A tree from tcp, tls and quic servers whose certificates rtpget does not
// trust (no -k): it comes whole over tcp, and the user is told about each
// refused server a bounded number of times, not once per big file and
// session.
func TestTreeRefusedCertificateToldOnce(t *testing.T) {
	src := newSrcTree(t)
	src.fill(t, 40, 16<<10, 3)
	for i := range 6 {
		data := make([]byte, 5<<20+i)
		for j := range data {
			data[j] = byte(j*13 + i)
		}
		src.put(t, fmt.Sprintf("big/f%d.bin", i), data)
	}
	u := src.manifest(t, "t")
	srvs := src.serve(t, 3)
	out := t.TempDir()
	_, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, "-q", "-C", out, addServers(u, srvs...))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	sameTree(t, filepath.Join(out, "t"), src.files, src.exec)
	for _, s := range srvs[1:] {
		n := 0
		for _, line := range strings.Split(stderr, "\n") {
			if strings.Contains(line, s.Dials[0]) {
				n++
			}
		}
		// Once by the tree, and at most once by each of the two swarms
		// of big files that may have dialed it at the same time.
		if n == 0 || n > 1+bigJobs {
			t.Errorf("%s named in %d lines, want 1 to %d:\n%s", s.Dials[0], n, 1+bigJobs, stderr)
		}
	}
}
