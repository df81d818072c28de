package main

import (
	"bytes"
	"crypto/sha256"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rtp-project/rtp/internal/rtpdtest"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/urn"
)

// TestVerifyWhichHashes: by default (--verify all, as the wire contract
// asks) a URL whose sha256 is wrong but whose blake3 is right fails with
// exit 1 and leaves nothing behind, with the tree and without it; --verify
// one (or RTPGET_VERIFY=one) checks the blake3 urn and nothing else, so the
// same URL downloads and says it verified the blake3 urn only. --verify one
// never falls back to another urn when the blake3 one does not match.
func TestVerifyWhichHashes(t *testing.T) {
	blobs := t.TempDir()
	data, u := writeRandom(t, blobs, "f.bin", 3<<20+12345)
	dial, _ := rtpdtest.ServeInProcess(t, blobs, nil)
	u.Servers = []rtpurl.Dial{dial}
	b3, sha := u.Hashes[0], u.Hashes[1]
	wrongSHA := urn.New(urn.SHA256, sha256.Sum256([]byte("other bytes")))
	wrongB3 := urn.New(urn.BLAKE3, [32]byte(bytes.Repeat([]byte{7}, 32)))
	withHashes := func(hs ...urn.Hash) string {
		c := *u
		c.Hashes = hs
		return c.String()
	}
	for _, c := range []struct {
		name     string
		env      []string
		args     []string
		url      string
		ok       bool
		verified []urn.Hash // when ok
		tree     bool       // when ok: checked on arrival
	}{
		{"sha256 wrong, default", nil, nil, withHashes(b3, wrongSHA), false, nil, false},
		{"sha256 wrong, --verify one", nil, []string{"--verify", "one"}, withHashes(b3, wrongSHA), true, []urn.Hash{b3}, true},
		{"sha256 wrong, blake3 listed second, --verify one", nil, []string{"--verify", "one"}, withHashes(wrongSHA, b3), true, []urn.Hash{b3}, true},
		{"sha256 wrong, --verify one --no-tree", nil, []string{"--verify", "one", "--no-tree"}, withHashes(b3, wrongSHA), true, []urn.Hash{b3}, false},
		{"sha256 wrong, RTPGET_VERIFY=one", []string{"RTPGET_VERIFY=one"}, nil, withHashes(b3, wrongSHA), true, []urn.Hash{b3}, true},
		{"sha256 wrong, --verify all --no-tree", nil, []string{"--verify", "all", "--no-tree"}, withHashes(b3, wrongSHA), false, nil, false},
		{"blake3 wrong, --verify one", nil, []string{"--verify", "one"}, withHashes(wrongB3, sha), false, nil, false},
		{"blake3 wrong, default", nil, nil, withHashes(wrongB3, sha), false, nil, false},
		{"both right, default", nil, nil, withHashes(b3, sha), true, []urn.Hash{b3, sha}, true},
		{"sha256 only, default", nil, nil, withHashes(sha), true, []urn.Hash{sha}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "f.bin")
			for _, e := range c.env {
				k, v, _ := strings.Cut(e, "=")
				t.Setenv(k, v)
			}
			r, stderr, code := summary(t, append(append([]string{}, c.args...), "-o", out, c.url)...)
			got, err := os.ReadFile(out)
			if !c.ok {
				if code != 1 || !strings.Contains(stderr, "do not match the URL's hash") {
					t.Fatalf("exit %d, want 1 for bytes that do not match\n%s", code, stderr)
				}
				if left := names(t, dir); len(left) != 0 {
					t.Errorf("left behind %q", left)
				}
				return
			}
			if code != 0 || err != nil || !bytes.Equal(got, data) {
				t.Fatalf("exit %d, output %d bytes (%v), want %d\n%s", code, len(got), err, len(data), stderr)
			}
			var want []string
			for _, h := range c.verified {
				want = append(want, h.String())
			}
			if !slices.Equal(r.Verified, want) {
				t.Errorf("summary says verified %q, want %q", r.Verified, want)
			}
			if (r.TreeFrom != "") != c.tree {
				t.Errorf("tree from %q, want a tree: %v", r.TreeFrom, c.tree)
			}
		})
	}
}

// TestVerifyFinalLine: the line rtpget prints names the urns it checked,
// not the URL's first one.
func TestVerifyFinalLine(t *testing.T) {
	_, u, _ := serveRandom(t, 1<<20)
	b3 := u.Hashes[0]
	u.Hashes = []urn.Hash{u.Hashes[1], b3} // sha256 first
	out := filepath.Join(t.TempDir(), "f.bin")
	_, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, "-k", "--verify", "one", "-o", out, u.String())
	if code != 0 || !strings.HasSuffix(strings.TrimSpace(stderr), "verified "+b3.String()) {
		t.Errorf("exit %d, stderr %q: want a last line ending in verified %s", code, stderr, b3)
	}
}

// TestVerifyBadValue: anything but one or all is a usage error.
func TestVerifyBadValue(t *testing.T) {
	_, u, _ := serveRandom(t, 1<<10)
	dir := t.TempDir()
	_, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, "--verify", "strongest", "-C", dir, u.String())
	if code != 2 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, "want one or all") {
		t.Errorf("exit %d, stderr %q: want 2 and one line", code, stderr)
	}
	if left := names(t, dir); len(left) != 0 {
		t.Errorf("left behind %q", left)
	}
}

// TestVerifyExisting: a file already at the output name is checked against
// the urns --verify names: with a wrong sha256 beside the right blake3, it
// is the URL's file with --verify one (nothing fetched) and another file by
// default, --verify all (exit 1, the file left as it is).
func TestVerifyExisting(t *testing.T) {
	data, u, _ := serveRandom(t, 1<<20+7)
	u.Hashes[1] = urn.New(urn.SHA256, sha256.Sum256([]byte("other bytes")))
	out := filepath.Join(t.TempDir(), "f.bin")
	if err := os.WriteFile(out, data, 0o644); err != nil {
		t.Fatal(err)
	}
	r, stderr, code := summary(t, "--verify", "one", "-o", out, u.String())
	if code != 0 || r.Fetched != 0 || !slices.Equal(r.Verified, []string{u.Hashes[0].String()}) {
		t.Errorf("--verify one: exit %d, %d bytes fetched, verified %q; want 0, none, the blake3 urn\n%s", code, r.Fetched, r.Verified, stderr)
	}
	_, stderr, code = rtpdtest.Run(t, rtpdtest.RTPGet, "-k", "-o", out, u.String())
	if code != 1 || !strings.Contains(stderr, "its sha256 differs") {
		t.Errorf("default: exit %d, want 1 for another file\n%s", code, stderr)
	}
	if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, data) {
		t.Errorf("the existing file changed (%v)", err)
	}
}
