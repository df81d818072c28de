package swarm

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rtp-project/rtp/internal/rtpdtest"
	"github.com/rtp-project/rtp/internal/testload"
	"github.com/rtp-project/rtp/outboard"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/server"
	"github.com/rtp-project/rtp/urn"
)

// watchedOutput is the output file, and a record of every byte written into
// it that differs from what the resource holds there.
type watchedOutput struct {
	*os.File
	want  []byte
	mu    sync.Mutex
	wrong int64
	reads atomic.Int64 // bytes read back
}

func watch(t *testing.T, want []byte) *watchedOutput {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "out.part"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &watchedOutput{File: f, want: want}
}

func (w *watchedOutput) WriteAt(p []byte, off int64) (int, error) {
	w.mu.Lock()
	for i := range p {
		if off+int64(i) >= int64(len(w.want)) || p[i] != w.want[off+int64(i)] {
			w.wrong++
		}
	}
	w.mu.Unlock()
	return w.File.WriteAt(p, off)
}

func (w *watchedOutput) ReadAt(p []byte, off int64) (int, error) {
	n, err := w.File.ReadAt(p, off)
	w.reads.Add(int64(n))
	return n, err
}

func blake3Only(u *rtpurl.URL) *rtpurl.URL {
	c := *u
	c.Hashes = []urn.Hash{u.Hashes[0]}
	return &c
}

func runTo(t *testing.T, cfg Config, out Output, statePath string) (*Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return New(cfg).Run(ctx, out, statePath, nil)
}

// Acceptance 1: a liar among honest servers is banned at its first bad
// group, and not one byte it sent that does not match reaches the file.
func TestTreeLiarBannedAtFirstBadGroup(t *testing.T) {
	for _, c := range []struct {
		name    string
		lieFrom int64 // it sends this many bytes honestly, then lies in every chunk it reads
	}{
		{"lies from its first byte", 0},
		{"lies from the 3rd group of its first READ on", 2*outboard.GroupSize + 100},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			data, u := randomFile(t, dir, 12<<20+777)
			ts := serveDir(t, dir, 3)
			liar := ts[0]
			// Being listed first does not make sure it gets blocks: the
			// honest ones hold their READs until it has read some (or 10 s
			// have passed), so it always has a READ in flight to lie in.
			for _, h := range ts[1:] {
				h.wait = func(int64) {
					for end := time.Now().Add(10 * time.Second); liar.read.Load() == 0 && time.Now().Before(end); {
						time.Sleep(time.Millisecond)
					}
				}
			}
			// Its one session serves READs one at a time, in chunks of
			// 256 KiB: sent counts what it sent before this chunk.
			liar.hook = func(off int64, p []byte) bool {
				sent := liar.read.Load() - int64(len(p))
				if end := sent + int64(len(p)); end > c.lieFrom {
					p[max(c.lieFrom-sent, 0)] ^= 0x55
				}
				return false
			}
			out := watch(t, data)
			res, err := runTo(t, Config{URL: withServers(u, ts)}, out, "")
			if err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(out.Name())
			if !bytes.Equal(got, data) {
				t.Fatal("output differs")
			}
			if res.TreeFrom == "" {
				t.Fatal("the tree was not used")
			}
			l := res.Servers[0]
			if !l.Banned || res.Repaired != 0 {
				t.Errorf("liar not banned on arrival: %+v, %d blocks repaired", l, res.Repaired)
			}
			if out.wrong != 0 {
				t.Errorf("%d wrong bytes reached the file", out.wrong)
			}
			// Its first READ starts at a block boundary: what it got
			// accepted can only be whole groups before its first lie (or
			// none: groups are checked in runs as they arrive, and a run
			// with a bad group passes nothing).
			if most := c.lieFrom / outboard.GroupSize * outboard.GroupSize; l.Verified > most {
				t.Errorf("liar had %d bytes accepted, at most %d were honest", l.Verified, most)
			}
			for _, s := range res.Servers[1:] {
				if s.Banned {
					t.Errorf("honest server banned: %+v", s)
				}
			}
			t.Logf("liar: received %d bytes from it, %d accepted; %s", l.Bytes, l.Verified, l.Why)
		})
	}
}

// A server whose tree does not match the urn is banned; the tree of an
// honest one is used. Both are asked at once; the honest one sends its
// tree only once the download has logged the ban of the other, so that the
// bad tree is sure to be checked. With RTP_TEST_FAST_HASH=1 (package
// testload) the file is a tenth as big.
func TestTreeBadTreeBanned(t *testing.T) {
	dir := t.TempDir()
	data, u := randomFile(t, dir, testload.Bytes(5<<20))
	ts := serveDir(t, dir, 2)
	ts[0].treeHook = func(off int64, p []byte) {
		if len(p) > 100 {
			p[100] ^= 1
		}
	}
	banned, done := make(chan struct{}), make(chan struct{})
	defer close(done) // a download that never bans it does not hold the server
	var once sync.Once
	log := slog.New(logHook(func(r slog.Record) {
		if r.Level == slog.LevelWarn && strings.Contains(r.Message, "banning") && logAttr(r, "server") == ts[0].dial.String() {
			once.Do(func() { close(banned) })
		}
	}))
	ts[1].treeHook = func(int64, []byte) {
		select {
		case <-banned:
		case <-done:
		}
	}
	out := watch(t, data)
	res, err := runTo(t, Config{URL: withServers(u, ts), Log: log}, out, "")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-banned:
	default:
		t.Error("the download did not log the ban of the server with the bad tree")
	}
	if !res.Servers[0].Banned || res.Servers[1].Banned || res.TreeFrom != ts[1].dial.String() {
		t.Errorf("servers %+v, tree from %q", res.Servers, res.TreeFrom)
	}
	if got, _ := os.ReadFile(out.Name()); !bytes.Equal(got, data) {
		t.Fatal("output differs")
	}
}

// Servers without trees: the whole file is verified at the end, as before.
func TestTreeNoneOffered(t *testing.T) {
	dir := t.TempDir()
	data, u := randomFile(t, dir, 3<<20)
	ts := serveDir(t, dir, 2)
	for _, s := range ts {
		s.noTree = true
	}
	out := watch(t, data)
	res, err := runTo(t, Config{URL: blake3Only(withServers(u, ts))}, out, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.TreeFrom != "" || out.reads.Load() != int64(len(data)) {
		t.Errorf("tree from %q, %d bytes read back for the hash", res.TreeFrom, out.reads.Load())
	}
}

// A server whose READs stop short of a group boundary: the verifier keeps
// the start of the group across the READs that complete it.
func TestTreeShortReads(t *testing.T) {
	dir := t.TempDir()
	data, u := randomFile(t, dir, 3<<20+5)
	disk := rtpdtest.IndexedDisk(t, dir)
	srv := server.New(server.Config{Store: disk, MaxRead: 10000})
	l, err := srv.Listen(rtpurl.Dial{Proto: rtpurl.TCP, Host: "127.0.0.1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go srv.ServeListener(ctx, l)
	u.Servers = []rtpurl.Dial{l.Dial}
	out := watch(t, data)
	res, err := runTo(t, Config{URL: blake3Only(u)}, out, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.TreeFrom == "" || out.reads.Load() != 0 || out.wrong != 0 {
		t.Errorf("tree from %q, %d bytes read back, %d wrong", res.TreeFrom, out.reads.Load(), out.wrong)
	}
	if got, _ := os.ReadFile(out.Name()); !bytes.Equal(got, data) {
		t.Fatal("output differs")
	}
}

// Resume: blocks the first run verified against the tree are trusted, so
// the second run of a blake3-only URL reads nothing back; blocks kept by a
// run without the tree are checked first, and a bad one is fetched again.
func TestTreeResume(t *testing.T) {
	for _, firstNoTree := range []bool{false, true} {
		dir := t.TempDir()
		data, u := randomFile(t, dir, 16<<20)
		u = blake3Only(u)
		ts := serveDir(t, dir, 2)
		dieAfter(ts, 3<<20)
		state := filepath.Join(t.TempDir(), "state")
		out := watch(t, data)
		cfg := Config{URL: withServers(u, ts), BlockSize: 256 << 10, Backoff: 10 * time.Millisecond, Retries: 1, NoTree: firstNoTree}
		if _, err := runTo(t, cfg, out, state); err == nil {
			t.Fatal("all servers killed, yet it succeeded")
		}
		st := loadState(state, u)
		if st == nil || (st.Verified != "") != !firstNoTree {
			t.Fatalf("state %+v", st)
		}
		var kept []int
		for i, ok := range st.blocks(64) {
			if ok {
				kept = append(kept, i)
			}
		}
		if len(kept) == 0 {
			t.Fatal("no block kept")
		}
		// Spoil a kept block: only the run that checks kept blocks fixes it.
		spoilt := int64(kept[0]) * 256 << 10
		if firstNoTree {
			out.File.WriteAt([]byte{^data[spoilt]}, spoilt)
		}
		out.reads.Store(0)
		cfg.URL, cfg.NoTree = withServers(u, serveDir(t, dir, 2)), false
		res, err := runTo(t, cfg, out, state)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(out.Name())
		if !bytes.Equal(got, data) {
			t.Fatalf("first run without tree %v: output differs", firstNoTree)
		}
		want := int64(0) // trusted
		if firstNoTree {
			want = int64(len(kept)) * 256 << 10 // each kept block checked once
		}
		if out.reads.Load() != want || res.Kept != int64(len(kept)-btoi(firstNoTree))*256<<10 {
			t.Errorf("first run without tree %v: %d bytes read back, want %d; kept %d of %d blocks", firstNoTree, out.reads.Load(), want, res.Kept/(256<<10), len(kept))
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// logHook is a slog.Handler that calls itself with every record.
type logHook func(slog.Record)

func (h logHook) Enabled(context.Context, slog.Level) bool { return true }
func (h logHook) Handle(_ context.Context, r slog.Record) error {
	h(r)
	return nil
}
func (h logHook) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h logHook) WithGroup(string) slog.Handler      { return h }

// logAttr returns the value of a record's attribute, as a string.
func logAttr(r slog.Record, key string) string {
	var v string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v = a.Value.String()
			return false
		}
		return true
	})
	return v
}
