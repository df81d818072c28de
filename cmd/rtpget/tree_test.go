package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rtp-project/rtp/internal/rtpdtest"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/urn"
)

// treeLiar flips the first byte of every chunk it reads (256 KiB), so it
// lies from its first byte on, but serves the true tree, as a liar that
// wants to look like a verified-streaming server would.
type treeLiar struct{ store.Opener }

func (l treeLiar) Open(ctx context.Context, h urn.Hash) (store.Blob, error) {
	b, err := l.Opener.Open(ctx, h)
	if err != nil {
		return nil, err
	}
	return firstByteLiar{b}, nil
}

func (l treeLiar) OpenTree(ctx context.Context, h urn.Hash) (store.Blob, error) {
	return l.Opener.(store.TreeOpener).OpenTree(ctx, h)
}

type firstByteLiar struct{ store.Blob }

func (b firstByteLiar) ReadAt(p []byte, off int64) (int, error) {
	n, err := b.Blob.ReadAt(p, off)
	if n > 0 {
		p[0] ^= 0x55
	}
	return n, err
}

func treeLiarSwarm(t *testing.T, size int) ([]byte, *rtpurl.URL, rtpurl.Dial) {
	t.Helper()
	blobs := t.TempDir()
	data, u := writeRandom(t, blobs, "f.bin", size)
	honest1 := rtpdtest.Start(t, blobs, "--index", filepath.Join(t.TempDir(), "i.db"), "--listen", "tcp!127.0.0.1!0")
	honest2 := rtpdtest.Start(t, blobs, "--index", filepath.Join(t.TempDir(), "i.db"), "--listen", "quic!127.0.0.1!0")
	lie, _ := rtpdtest.ServeInProcess(t, blobs, func(o store.Opener) store.Opener { return treeLiar{o} })
	u.Servers = []rtpurl.Dial{lie} // first, so it gets its share
	full, err := rtpurl.Parse(addServers(u, honest1, honest2))
	if err != nil {
		t.Fatal(err)
	}
	return data, full, lie
}

// Acceptance 1 (issue 6): with the tree, a lying server is banned at its
// first bad group, and none of its bytes is accepted into the file.
func TestTreeLiarBannedOnArrival(t *testing.T) {
	data, u, lie := treeLiarSwarm(t, 64<<20)
	out := filepath.Join(t.TempDir(), "f.bin")
	r, stderr, code := summary(t, "-o", out, u.String())
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("output differs (%d bytes, %v)", len(got), err)
	}
	if r.TreeFrom == "" {
		t.Fatal("the BLAKE3 tree was not used")
	}
	l := r.Servers[0]
	if l.Server != lie.String() || !l.Banned || r.Repaired != 0 {
		t.Errorf("liar not banned on arrival: %+v, %d blocks repaired", l, r.Repaired)
	}
	if l.Verified != 0 {
		t.Errorf("%d bytes of the liar accepted into the file", l.Verified)
	}
	if l.Bytes == 0 {
		t.Error("the liar sent nothing, so the test proved nothing")
	}
	for _, s := range r.Servers[1:] {
		if s.Banned || s.Verified == 0 {
			t.Errorf("honest server: %+v", s)
		}
	}
	t.Logf("liar: %d bytes received from it, %d accepted, %s", l.Bytes, l.Verified, l.Why)
}

// Acceptance 2 (issue 6): rtpget -o - of a blake3-only URL from a swarm
// with a liar streams exactly the right bytes (piped into sha256sum).
func TestTreeStdoutWithLiar(t *testing.T) {
	data, u, _ := treeLiarSwarm(t, 48<<20+12345)
	u.Hashes = u.Hashes[:1] // urn:blake3 only
	if u.Hashes[0].Kind != urn.BLAKE3 {
		t.Fatal("want a blake3 urn")
	}
	if _, err := exec.LookPath("sha256sum"); err != nil {
		t.Skip("no sha256sum")
	}
	cmd := exec.Command("bash", "-c", `set -o pipefail; "$0" -k -o - "$1" | sha256sum`, rtpdtest.RTPGet, u.String())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	outb, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	sum := sha256.Sum256(data)
	want := hex.EncodeToString(sum[:])
	got := strings.Fields(string(outb))
	if len(got) == 0 || got[0] != want {
		t.Fatalf("sha256sum of stdout: %q, want %s\nrtpget: %s", outb, want, stderr.String())
	}
	if !strings.Contains(stderr.String(), "banning server") {
		t.Errorf("no ban logged: %s", stderr.String())
	}
	t.Logf("%s  (rtpget -o - | sha256sum); rtpget said: %s", got[0], strings.TrimSpace(stderr.String()))
}
