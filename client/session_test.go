package client_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/rtp-project/rtp/client"
	"github.com/rtp-project/rtp/urn"
)

// chunks records every Write, and fails the one numbered failAt (from 1).
type chunks struct {
	bytes.Buffer
	writes int
	failAt int
}

var errDst = errors.New("destination refused")

func (c *chunks) Write(p []byte) (int, error) {
	c.writes++
	if c.writes == c.failAt {
		return 0, errDst
	}
	return c.Buffer.Write(p)
}

// TestPipelinedPayloads sends READs of sizes around the session's buffers
// all at once, so responses arrive back to back and a header read brings
// part of the next payload along; every payload must arrive exact, through
// the buffered bytes and the direct reads both. A destination that fails
// part way gets nothing more, and the session goes on with the next READ.
func TestPipelinedPayloads(t *testing.T) {
	data := make([]byte, 3<<20)
	rand.Read(data)
	uri := urn.New(urn.SHA256, sha256.Sum256(data)).String()
	ctx, s := serveAndDial(t, data)
	tok, err := s.Open(ctx, uri)
	if err != nil {
		t.Fatal(err)
	}
	type read struct {
		off, n int
		dst    *chunks
		call   *client.Call
	}
	var reads []*read
	off := 0
	for i, n := range []int{1, 4095, 4096, 4097, 16, 300000, 1<<20 - 17, 5, 256 << 10, 100000, 1 << 20} {
		r := &read{off: off % (len(data) - n), n: n, dst: &chunks{}}
		if i == 6 || i == 9 {
			r.dst.failAt = 2 // fails after its first chunk has gone through
		}
		r.call = s.StartRead(tok, uint64(r.off), uint64(n), r.dst)
		reads = append(reads, r)
		off += n + 777
	}
	failed := 0
	for i, r := range reads {
		if err := r.call.Wait(ctx); r.dst.failAt > 0 {
			failed++
			if !errors.Is(err, errDst) {
				t.Errorf("READ %d: a failing destination gave %v, want %v", i, err, errDst)
			}
			if r.call.N != int64(r.n) {
				t.Errorf("READ %d: %d of %d payload bytes consumed after the destination failed", i, r.call.N, r.n)
			}
			if !bytes.HasPrefix(data[r.off:], r.dst.Bytes()) || r.dst.Len() == r.n {
				t.Errorf("READ %d: the failing destination holds %d bytes, not a strict prefix", i, r.dst.Len())
			}
			continue
		} else if err != nil {
			t.Fatalf("READ %d (%d bytes at %d): %v", i, r.n, r.off, err)
		}
		if !bytes.Equal(r.dst.Bytes(), data[r.off:r.off+r.n]) {
			t.Fatalf("READ %d (%d bytes at %d): %d bytes arrived, not the file's", i, r.n, r.off, r.dst.Len())
		}
	}
	if failed != 2 {
		t.Fatalf("%d destinations failed, want 2", failed)
	}
	// The session is still good.
	p := make([]byte, 1000)
	if n, err := s.ReadAt(ctx, tok, p, 2<<20); err != nil || n != len(p) || !bytes.Equal(p, data[2<<20:2<<20+1000]) {
		t.Fatalf("READ after the failures: %d bytes, %v", n, err)
	}
}
