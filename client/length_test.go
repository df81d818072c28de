package client_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rtp-project/rtp/client"
	"github.com/rtp-project/rtp/internal/rtpdtest"
	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/urn"
	"github.com/rtp-project/rtp/wire"
)

// ProbeLength finds the exact length of files around the powers of two
// and group sizes it searches by, the empty one included, from a real
// server over loopback.
func TestProbeLength(t *testing.T) {
	sizes := []int{0, 1, 2, 3, 7, 8, 9, 1000, 16<<10 - 1, 16 << 10, 1<<20 + 1, 5<<20 + 7}
	dir := t.TempDir()
	uris := make([]string, len(sizes))
	for i, n := range sizes {
		data := make([]byte, n)
		rand.Read(data)
		if err := os.WriteFile(filepath.Join(dir, strconv.Itoa(n)), data, 0o644); err != nil {
			t.Fatal(err)
		}
		uris[i] = urn.New(urn.SHA256, sha256.Sum256(data)).String()
	}
	d, _ := rtpdtest.ServeInProcess(t, dir, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := client.Dial(ctx, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i, n := range sizes {
		tok, err := s.Open(ctx, uris[i])
		if err != nil {
			t.Fatalf("open %d bytes: %v", n, err)
		}
		got, err := s.ProbeLength(ctx, tok, 0)
		if err != nil || got != int64(n) {
			t.Errorf("ProbeLength of %d bytes = %d, %v", n, got, err)
		}
	}
	// A token never opened: the server's error, not a length.
	var bogus wire.Token
	bogus[0] = 0xee
	if n, err := s.ProbeLength(ctx, bogus, 0); !errors.As(err, new(*wire.Error)) {
		t.Errorf("ProbeLength of a token never opened = %d, %v; want the server's ERROR", n, err)
	}
}

// hugeOpener answers every OPEN with a blob that claims 2^62 bytes.
type hugeOpener struct{ store.Opener }

func (hugeOpener) Open(context.Context, urn.Hash) (store.Blob, error) { return hugeBlob{}, nil }

type hugeBlob struct{}

func (hugeBlob) ReadAt(p []byte, off int64) (int, error) { clear(p); return len(p), nil }
func (hugeBlob) Size() int64                             { return 1 << 62 }
func (hugeBlob) Close() error                            { return nil }

// stuckOpener answers OPENs, then never answers a READ until the test ends.
type stuckOpener struct {
	store.Opener
	gate  chan struct{}
	reads *atomic.Int64
}

func (o stuckOpener) Open(context.Context, urn.Hash) (store.Blob, error) {
	return stuckBlob(o), nil
}

type stuckBlob stuckOpener

func (b stuckBlob) ReadAt(p []byte, off int64) (int, error) {
	b.reads.Add(1)
	<-b.gate
	return 0, errors.New("gate closed")
}
func (stuckBlob) Size() int64  { return 1 << 20 }
func (stuckBlob) Close() error { return nil }

// Hostile servers: one that claims a resource past 2^61 bytes gets
// ErrTooLarge, not a length; one that never answers a READ fails the
// probe with context.DeadlineExceeded once a round trip has waited its
// limit, while the caller's context still runs.
func TestProbeLengthHostile(t *testing.T) {
	dir := t.TempDir()
	anyURI := urn.New(urn.SHA256, sha256.Sum256(nil)).String()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	probe := func(wrap func(store.Opener) store.Opener, wait time.Duration) (int64, error) {
		t.Helper()
		d, _ := rtpdtest.ServeInProcess(t, dir, wrap)
		s, err := client.Dial(ctx, d, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		tok, err := s.Open(ctx, anyURI)
		if err != nil {
			t.Fatal(err)
		}
		return s.ProbeLength(ctx, tok, wait)
	}

	n, err := probe(func(o store.Opener) store.Opener { return hugeOpener{o} }, 0)
	if !errors.Is(err, client.ErrTooLarge) {
		t.Errorf("a 2^62-byte resource: ProbeLength = %d, %v; want ErrTooLarge", n, err)
	}

	gate := make(chan struct{})
	defer close(gate) // before the Cleanup that stops the server waits for the stuck READs
	var reads atomic.Int64
	n, err = probe(func(o store.Opener) store.Opener { return stuckOpener{o, gate, &reads} }, 100*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil || reads.Load() == 0 {
		t.Errorf("a server that never answers: ProbeLength = %d, %v (%d READs reached the store); want context.DeadlineExceeded", n, err, reads.Load())
	}
}
