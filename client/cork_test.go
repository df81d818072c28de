package client_test

import (
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rtp-project/rtp/client"
	"github.com/rtp-project/rtp/internal/rtpdtest"
	"github.com/rtp-project/rtp/urn"
)

// serveAndDial serves data as the one file of an in-process rtpd and
// returns a session to it, and a context that ends with the test (20 s at
// most).
func serveAndDial(t *testing.T, data []byte) (context.Context, *client.Session) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	d, _ := rtpdtest.ServeInProcess(t, dir, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	s, err := client.Dial(ctx, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return ctx, s
}

// TestCorkAndRTT: requests started under Cork wait until Uncork and then
// are answered; RTT gives the TCP round trip, on loopback well under the
// time a request waits for the server.
func TestCorkAndRTT(t *testing.T) {
	data := []byte("corked\n")
	ctx, s := serveAndDial(t, data)
	if rtt := s.RTT(); rtt <= 0 || rtt > 100*time.Millisecond {
		t.Errorf("RTT on loopback: %v", rtt)
	}

	uri := urn.New(urn.SHA256, sha256.Sum256(data)).String()
	s.Cork()
	s.Cork()
	open := s.StartOpen(uri)
	buf := make([]byte, len(data))
	read := s.StartRead(open.Token, 0, uint64(len(data)), &sink{p: buf})
	s.Uncork() // one Cork is left: still held
	select {
	case <-open.Done:
		t.Fatal("a corked OPEN was answered before Uncork")
	case <-time.After(300 * time.Millisecond):
	}
	s.Uncork()
	if err := open.Wait(ctx); err != nil {
		t.Fatalf("OPEN after Uncork: %v", err)
	}
	if err := read.Wait(ctx); err != nil || string(buf) != string(data) {
		t.Fatalf("READ after Uncork: %q, %v", buf, err)
	}
}

type sink struct {
	p []byte
	n int
}

func (s *sink) Write(b []byte) (int, error) {
	s.n += copy(s.p[s.n:], b)
	return len(b), nil
}

// filler is a client.Filler over p, counting how it was filled.
type filler struct {
	sink
	direct, writes int
}

func (f *filler) Unfilled() []byte { return f.p[f.n:] }
func (f *filler) Filled(n int)     { f.n += n; f.direct += n }
func (f *filler) Write(b []byte) (int, error) {
	f.writes++
	return f.sink.Write(b)
}

// TestFillerPayloads pipelines READs into destinations that lend their
// memory: every payload arrives exact, most of the bytes without a copy.
func TestFillerPayloads(t *testing.T) {
	data := make([]byte, 3<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	ctx, s := serveAndDial(t, data)
	tok, err := s.Open(ctx, urn.New(urn.SHA256, sha256.Sum256(data)).String())
	if err != nil {
		t.Fatal(err)
	}
	sizes := []int{1, 4095, 4096, 4097, 300000, 1 << 20, 17, 1<<20 - 3}
	var fs []*filler
	var calls []*client.Call
	off := 0
	for _, n := range sizes {
		f := &filler{sink: sink{p: make([]byte, n)}}
		fs = append(fs, f)
		calls = append(calls, s.StartRead(tok, uint64(off), uint64(n), f))
		off += n
	}
	direct := 0
	off = 0
	for i, c := range calls {
		if err := c.Wait(ctx); err != nil {
			t.Fatalf("READ %d: %v", i, err)
		}
		if string(fs[i].p) != string(data[off:off+sizes[i]]) || fs[i].n != sizes[i] {
			t.Fatalf("READ %d of %d bytes: %d arrived, not the file's", i, sizes[i], fs[i].n)
		}
		direct += fs[i].direct
		off += sizes[i]
	}
	if direct < off/2 {
		t.Errorf("%d of %d bytes were read straight into the destinations", direct, off)
	}
}
