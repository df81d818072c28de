package swarm

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// syncNotifier is an output that sends how far the download was at each
// Sync.
type syncNotifier struct {
	*os.File
	d     *Download
	syncs chan int64
}

func (s *syncNotifier) Sync() error {
	s.syncs <- s.d.plan.progress()
	return s.File.Sync()
}

// TestFlushBehind: the output is synced each time flushEvery more bytes are
// done, counted from what was done when it started.
func TestFlushBehind(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "out.part"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const bs = 256 << 10
	d := &Download{plan: newPlan(16*bs, bs, 0)}
	out := &syncNotifier{File: f, d: d, syncs: make(chan int64)}
	d.out = out
	finish := func(i int) {
		b := &d.plan.blocks[i]
		b.mu.Lock()
		d.plan.finishLocked(i, 0, false)
		b.mu.Unlock()
	}
	finish(15) // done before: not counted
	defer func(n int64) { flushEvery = n }(flushEvery)
	flushEvery = 4 * bs
	stop := d.flushBehind()
	defer stop()
	for i := range 3 {
		finish(i)
	}
	finish(3)
	if at := waitSync(t, out.syncs); at != 5*bs {
		t.Errorf("first sync with %d bytes done, want %d", at, 5*bs)
	}
	for i := 4; i < 8; i++ {
		finish(i)
	}
	if at := waitSync(t, out.syncs); at < 9*bs {
		t.Errorf("second sync with %d bytes done, want at least %d", at, 9*bs)
	}
}

func waitSync(t *testing.T, syncs <-chan int64) int64 {
	t.Helper()
	select {
	case at := <-syncs:
		return at
	case <-time.After(10 * time.Second):
		t.Fatal("no sync")
		return 0
	}
}

// TestFlushBehindNotStreamed: a streamed download's output, a spool that no
// one renames, is never synced.
func TestFlushBehindNotStreamed(t *testing.T) {
	defer func(n int64) { flushEvery = n }(flushEvery)
	flushEvery = 1 << 20
	dir := t.TempDir()
	data, u := randomFile(t, dir, 4<<20+5)
	ts := serveDir(t, dir, 1)
	f, err := os.Create(filepath.Join(t.TempDir(), "spool"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := New(Config{URL: withServers(u, ts), BlockSize: 256 << 10})
	out := &syncNotifier{File: f, d: d, syncs: make(chan int64, 100)}
	var stream bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := d.Run(ctx, out, "", &stream); err != nil {
		t.Fatal(err)
	}
	if len(out.syncs) != 0 || !bytes.Equal(stream.Bytes(), data) {
		t.Errorf("%d syncs (want none), %d bytes streamed of %d", len(out.syncs), stream.Len(), len(data))
	}
}

// failAfter takes n bytes, then fails every write, as a pipe whose reader
// left or a full device does.
type failAfter struct{ n int }

var errGone = errors.New("reader gone")

func (w *failAfter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		return 0, errGone
	}
	w.n -= len(p)
	return len(p), nil
}

// TestStreamWriteFails: a stream that stops taking bytes ends the download
// with its error, at once. (The in-order pass once read the same bytes
// again and again, at full CPU, and Run never returned.)
func TestStreamWriteFails(t *testing.T) {
	dir := t.TempDir()
	_, u := randomFile(t, dir, 6<<20)
	ts := serveDir(t, dir, 1)
	f, err := os.Create(filepath.Join(t.TempDir(), "spool"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = New(Config{URL: withServers(u, ts)}).Run(ctx, f, "", &failAfter{n: 100})
	if !errors.Is(err, errGone) {
		t.Fatalf("Run: %v, want the stream's error", err)
	}
}
