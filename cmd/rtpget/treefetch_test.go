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
	big := make([]byte, smallMax+3<<20) // past the lanes: a swarm
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
	// A second run fetches nothing: every file is trusted by its record.
	s2, stderr, code := getTree(t, addServers(u, srvs...), "-C", out)
	if code != 0 || s2.FetchedBytes != 0 || s2.Present != len(src.files) {
		t.Errorf("rerun: exit %d, %+v, %s", code, s2, stderr)
	}
}
