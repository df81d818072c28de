package swarm

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// onMessage is a log handler that closes seen when a record's message
// starts with prefix, and passes warnings on to the test's log.
type onMessage struct {
	t      *testing.T
	prefix string
	once   sync.Once
	seen   chan struct{}
	mu     sync.Mutex
	msgs   []string
}

func newOnMessage(t *testing.T, prefix string) *onMessage {
	return &onMessage{t: t, prefix: prefix, seen: make(chan struct{})}
}

func (h *onMessage) Enabled(context.Context, slog.Level) bool { return true }
func (h *onMessage) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *onMessage) WithGroup(string) slog.Handler            { return h }
func (h *onMessage) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.msgs = append(h.msgs, r.Message)
	h.mu.Unlock()
	if strings.HasPrefix(r.Message, h.prefix) {
		h.once.Do(func() { close(h.seen) })
	}
	if r.Level >= slog.LevelWarn {
		h.t.Logf("%s %s", r.Level, r.Message)
	}
	return nil
}

// logged reports whether a message starting with prefix was logged.
func (h *onMessage) logged(prefix string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range h.msgs {
		if strings.HasPrefix(m, prefix) {
			return true
		}
	}
	return false
}

const repairStarts = "hash mismatch; fetching every block again"

type outcome struct {
	res *Result
	err error
}

// runAsync runs a download under ctx and returns a channel of its outcome.
func runAsync(t *testing.T, ctx context.Context, cfg Config) (out *os.File, done <-chan outcome) {
	t.Helper()
	out, err := os.Create(filepath.Join(t.TempDir(), "out.part"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	ch := make(chan outcome, 1)
	go func() {
		res, err := New(cfg).Run(ctx, out, "", nil)
		ch <- outcome{res, err}
	}()
	return out, ch
}

// A liar's bytes fail the hash at the end, so repair starts; then a second
// server goes silent, holding every READ of the repair. Its repair session
// stalls, its blocks go to the third server, and the download ends
// repaired instead of waiting for the silent one for ever.
func TestRepairServerSilent(t *testing.T) {
	dir := t.TempDir()
	data, u := randomFile(t, dir, 8<<20)
	ts := serveDir(t, dir, 3)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) }) // before the servers stop
	log := newOnMessage(t, repairStarts)
	liar, silent := ts[0], ts[2]
	liar.hook = func(int64, []byte) bool { return true }
	silent.wait = func(int64) {
		select {
		case <-log.seen:
			<-release
		default:
		}
	}
	cfg := Config{URL: withServers(u, ts), BlockSize: 256 << 10, NoTree: true, Stall: time.Second, Log: slog.New(log)}
	out, done := runAsync(t, context.Background(), cfg)
	var o outcome
	select {
	case o = <-done:
	case <-time.After(45 * time.Second):
		t.Fatal("the download is still running 45 s on, its repair held by a silent server")
	}
	select {
	case <-log.seen:
	default:
		t.Fatalf("no repair ran (%v): the liar's bytes never reached the file", o.err)
	}
	if !log.logged("repair: server failed") {
		t.Error("no repair session failed: the silent server held nothing")
	}
	if o.err != nil {
		t.Fatal(o.err)
	}
	if got, _ := os.ReadFile(out.Name()); !bytes.Equal(got, data) {
		t.Fatal("output differs")
	}
	if s := o.res.Servers; !s[0].Banned || s[1].Banned || s[2].Banned || o.res.Repaired == 0 {
		t.Errorf("%d blocks repaired; want the liar alone banned: %+v", o.res.Repaired, s)
	}
}

// Cancelling ctx while every repair READ is held by a silent server ends
// Run at once, with ctx's error; the stall timeout is far away.
func TestRepairCancelled(t *testing.T) {
	dir := t.TempDir()
	_, u := randomFile(t, dir, 8<<20)
	ts := serveDir(t, dir, 2)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	log := newOnMessage(t, repairStarts)
	held := make(chan struct{})
	var once sync.Once
	ts[0].hook = func(int64, []byte) bool { return true }
	for _, s := range ts {
		s.wait = func(int64) {
			select {
			case <-log.seen:
				once.Do(func() { close(held) })
				<-release
			default:
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := Config{URL: withServers(u, ts), BlockSize: 256 << 10, NoTree: true, Stall: 10 * time.Minute, Log: slog.New(log)}
	_, done := runAsync(t, ctx, cfg)
	select {
	case <-held:
	case o := <-done:
		t.Fatalf("Run ended before a repair READ reached a server: %v", o.err)
	case <-time.After(45 * time.Second):
		t.Fatal("no repair READ reached a server in 45 s")
	}
	cancel()
	select {
	case o := <-done:
		if !errors.Is(o.err, context.Canceled) {
			t.Fatalf("Run after cancel: %v, want context.Canceled", o.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run still running 30 s after its ctx was cancelled during the repair")
	}
}
