package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/rtp-project/rtp/internal/rtpdtest"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/urn"
)

// liar serves a real store but flips a byte in two of every three chunks it
// reads (256 KiB each), starting with its first, so its lies reach the file.
type liar struct {
	store.Opener
	reads *atomic.Int64
}

func (l liar) Open(ctx context.Context, h urn.Hash) (store.Blob, error) {
	b, err := l.Opener.Open(ctx, h)
	if err != nil {
		return nil, err
	}
	return lyingBlob{b, l.reads}, nil
}

type lyingBlob struct {
	store.Blob
	reads *atomic.Int64
}

func (b lyingBlob) ReadAt(p []byte, off int64) (int, error) {
	n, err := b.Blob.ReadAt(p, off)
	if n > 0 && b.reads.Add(1)%3 != 0 {
		p[n/2] ^= 0x55
	}
	return n, err
}

func TestLiarBanned(t *testing.T) {
	blobs := t.TempDir()
	data, u := writeRandom(t, blobs, "f.bin", 64<<20)
	honest1 := rtpdtest.Start(t, blobs, "--index", filepath.Join(t.TempDir(), "i.db"), "--listen", "tcp!127.0.0.1!0")
	honest2 := rtpdtest.Start(t, blobs, "--index", filepath.Join(t.TempDir(), "i.db"), "--listen", "quic!127.0.0.1!0")
	lie, _ := rtpdtest.ServeInProcess(t, blobs, func(o store.Opener) store.Opener { return liar{o, new(atomic.Int64)} })
	// The liar first, so it gets its share.
	u.Servers = []rtpurl.Dial{lie}
	url := addServers(u, honest1, honest2)
	out := filepath.Join(t.TempDir(), "f.bin")
	// Without the tree, which would catch it on arrival: this tests the
	// repair (see tree_test.go for the tree).
	r, stderr, code := summary(t, "--no-tree", "-o", out, url)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("output differs (%d bytes, %v)", len(got), err)
	}
	if len(r.Servers) != 3 || !r.Servers[0].Banned || r.Servers[0].Server != lie.String() {
		t.Errorf("liar not banned: %+v", r.Servers)
	}
	for _, s := range r.Servers[1:] {
		if s.Banned {
			t.Errorf("honest server banned: %+v", s)
		}
	}
	if r.Repaired == 0 {
		t.Error("no block repaired")
	}
	if r.Servers[0].Bytes == 0 {
		t.Error("the liar sent nothing, so the test proved nothing")
	}
	t.Logf("summary: %+v, %d blocks repaired", r.Servers, r.Repaired)
}
