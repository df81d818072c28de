package swarm

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"lukechampine.com/blake3"

	"github.com/rtp-project/rtp/internal/rtpdtest"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/urn"
)

// testServer is an in-process rtpd on loopback TCP over a real bbolt store,
// whose blobs can be made to misbehave.
type testServer struct {
	dial rtpurl.Dial
	// hook, if set, runs on every ReadAt of a served blob before the read,
	// and may change the bytes after it.
	hook func(off int64, p []byte) (tamper bool)
	wait func(off int64) // if set, called before every ReadAt (may block)
	read atomic.Int64    // bytes read from blobs
	kill func()
	// noTree makes it answer not found for trees; treeHook, if set, runs
	// on every ReadAt of a tree and may change its bytes.
	noTree   bool
	treeHook func(off int64, p []byte)
	// refuse, if set, is a kind of hash it answers not found for.
	refuse urn.Kind
}

type hookedOpener struct {
	store.Opener
	ts *testServer
}

func (h hookedOpener) Open(ctx context.Context, x urn.Hash) (store.Blob, error) {
	if h.ts.refuse != 0 && x.Kind == h.ts.refuse {
		return nil, fs.ErrNotExist
	}
	b, err := h.Opener.Open(ctx, x)
	if err != nil {
		return nil, err
	}
	return hookedBlob{b, h.ts}, nil
}

func (h hookedOpener) OpenTree(ctx context.Context, x urn.Hash) (store.Blob, error) {
	if h.ts.noTree {
		return nil, fs.ErrNotExist
	}
	b, err := h.Opener.(store.TreeOpener).OpenTree(ctx, x)
	if err != nil || h.ts.treeHook == nil {
		return b, err
	}
	return hookedTree{b, h.ts}, nil
}

type hookedTree struct {
	store.Blob
	ts *testServer
}

func (b hookedTree) ReadAt(p []byte, off int64) (int, error) {
	n, err := b.Blob.ReadAt(p, off)
	b.ts.treeHook(off, p[:n])
	return n, err
}

type hookedBlob struct {
	store.Blob
	ts *testServer
}

func (b hookedBlob) ReadAt(p []byte, off int64) (int, error) {
	if b.ts.wait != nil {
		b.ts.wait(off)
	}
	n, err := b.Blob.ReadAt(p, off)
	b.ts.read.Add(int64(n))
	if b.ts.hook != nil && n > 0 && b.ts.hook(off, p[:n]) {
		p[0] ^= 0xff
	}
	return n, err
}

// serveDir starts n in-process servers of dir, each with its own index,
// whose blobs the testServer's hooks can make misbehave.
func serveDir(t *testing.T, dir string, n int) []*testServer {
	t.Helper()
	var out []*testServer
	for range n {
		ts := &testServer{}
		ts.dial, ts.kill = rtpdtest.ServeInProcess(t, dir, func(o store.Opener) store.Opener { return hookedOpener{o, ts} })
		out = append(out, ts)
	}
	return out
}

func randomFile(t *testing.T, dir string, size int) ([]byte, *rtpurl.URL) {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	if err := os.WriteFile(filepath.Join(dir, "f"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	u := &rtpurl.URL{
		Hashes: []urn.Hash{urn.New(urn.BLAKE3, blake3.Sum256(data)), urn.New(urn.SHA256, sha256.Sum256(data))},
		Length: int64(size),
	}
	return data, u
}

func withServers(u *rtpurl.URL, ts []*testServer) *rtpurl.URL {
	c := *u
	c.Servers = nil
	for _, s := range ts {
		c.Servers = append(c.Servers, s.dial)
	}
	return &c
}

func run(t *testing.T, cfg Config, statePath string) ([]byte, *Result, error) {
	t.Helper()
	out, err := os.Create(filepath.Join(t.TempDir(), "out.part"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := New(cfg).Run(ctx, out, statePath, nil)
	got, _ := os.ReadFile(out.Name())
	return got, res, err
}

func TestSwarmThreeServers(t *testing.T) {
	dir := t.TempDir()
	data, u := randomFile(t, dir, 24<<20+333)
	ts := serveDir(t, dir, 3)
	got, res, err := run(t, Config{URL: withServers(u, ts), BlockSize: 256 << 10}, "")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("output differs")
	}
	for _, s := range res.Servers {
		if s.Bytes == 0 {
			t.Errorf("server %s sent nothing: %+v", s.Server, res.Servers)
		}
	}
}

// Sessions send their first READs behind the OPEN of the URL's first hash.
// A server that knows the file by the second hash only answers that OPEN
// not found, and those READs with the same error: the session opens the
// second hash and goes on, with no retry counted.
func TestSwarmServerKnowsSecondHashOnly(t *testing.T) {
	dir := t.TempDir()
	data, u := randomFile(t, dir, 8<<20)
	ts := serveDir(t, dir, 2)
	ts[1].refuse = urn.BLAKE3
	got, res, err := run(t, Config{URL: withServers(u, ts), BlockSize: 256 << 10, Sessions: 2}, "")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("output differs")
	}
	s := res.Servers[1]
	if s.Bytes == 0 || s.Retries != 0 || s.State != StateDone {
		t.Errorf("server knowing sha256 only: %d bytes, %d retries, %s; want bytes, no retry, done", s.Bytes, s.Retries, s.State)
	}
}

func TestSwarmServerKilledMidway(t *testing.T) {
	dir := t.TempDir()
	data, u := randomFile(t, dir, 32<<20)
	ts := serveDir(t, dir, 3)
	// Slow every server a little so the kill lands mid-download.
	for _, s := range ts {
		s.wait = func(int64) { time.Sleep(2 * time.Millisecond) }
	}
	victim := ts[1]
	victim.hook = func(off int64, p []byte) bool {
		if victim.read.Load() > 4<<20 {
			go victim.kill()
		}
		return false
	}
	got, res, err := run(t, Config{URL: withServers(u, ts), BlockSize: 256 << 10, Backoff: 20 * time.Millisecond, Retries: 2}, "")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("output differs")
	}
	if res.Servers[1].Retries == 0 {
		t.Errorf("killed server was never retried: %+v", res.Servers[1])
	}
}

func TestSwarmStallingServer(t *testing.T) {
	dir := t.TempDir()
	data, u := randomFile(t, dir, 16<<20)
	ts := serveDir(t, dir, 2)
	release := make(chan struct{})
	defer close(release)
	ts[0].wait = func(off int64) {
		if ts[0].read.Load() > 2<<20 {
			<-release // stalls forever after a little
		}
	}
	start := time.Now()
	got, _, err := run(t, Config{URL: withServers(u, ts), BlockSize: 256 << 10, Stall: 300 * time.Millisecond, Backoff: 50 * time.Millisecond}, "")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("output differs")
	}
	t.Logf("finished in %v despite a stalled server", time.Since(start))
}

func TestSwarmLiar(t *testing.T) {
	dir := t.TempDir()
	data, u := randomFile(t, dir, 12<<20)
	ts := serveDir(t, dir, 3)
	liar := ts[2]
	// It lies in two reads of every three, starting with its first, so its
	// lies reach the file unless every one of its blocks loses a race.
	var reads atomic.Int64
	liar.hook = func(off int64, p []byte) bool { return reads.Add(1)%3 != 0 }
	// Without the tree: this is the test of the repair.
	got, res, err := run(t, Config{URL: withServers(u, ts), BlockSize: 256 << 10, NoTree: true}, "")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("output differs")
	}
	for i, s := range res.Servers[:2] {
		if s.Banned {
			t.Errorf("honest server %d banned: %+v", i, s)
		}
	}
	// A lie that lost every race never reached the file: then there is
	// nothing to repair and nobody to ban.
	if res.Repaired > 0 && !res.Servers[2].Banned {
		t.Errorf("%d blocks repaired but the liar is not banned: %+v", res.Repaired, res.Servers)
	}
	t.Logf("liar sent %d bytes; %d blocks repaired", res.Servers[2].Bytes, res.Repaired)
}

// dieAfter slows the servers down and kills each once it has read n bytes.
func dieAfter(ts []*testServer, n int64) {
	for _, s := range ts {
		s.wait = func(int64) { time.Sleep(time.Millisecond) }
		s.hook = func(off int64, p []byte) bool {
			if s.read.Load() > n {
				go s.kill()
			}
			return false
		}
	}
}

func TestSwarmAllGoneThenResume(t *testing.T) {
	dir := t.TempDir()
	data, u := randomFile(t, dir, 16<<20)
	ts := serveDir(t, dir, 2)
	dieAfter(ts, 3<<20)
	state := filepath.Join(t.TempDir(), "state")
	part := filepath.Join(t.TempDir(), "out.part")
	out, err := os.Create(part)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{URL: withServers(u, ts), BlockSize: 256 << 10, Backoff: 10 * time.Millisecond, Retries: 1}
	_, err = New(cfg).Run(context.Background(), out, state, nil)
	out.Close()
	if !errors.Is(err, ErrNoServers) {
		t.Fatalf("all servers killed: %v, want ErrNoServers", err)
	}
	// Servers back: the rerun fetches only what is missing.
	fresh := serveDir(t, dir, 2)
	var before int64
	st := loadState(state, u)
	if st == nil {
		t.Fatal("no resume state saved")
	}
	for _, ok := range st.blocks(64) {
		if ok {
			before += 256 << 10
		}
	}
	if before == 0 {
		t.Fatal("resume state lists no block")
	}
	out, _ = os.OpenFile(part, os.O_RDWR, 0)
	defer out.Close()
	cfg.URL = withServers(u, fresh)
	res, err := New(cfg).Run(context.Background(), out, state, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(part)
	if !bytes.Equal(got, data) {
		t.Fatal("resumed output differs")
	}
	var dup int64
	for _, s := range res.Servers {
		dup += s.Dup
	}
	missing := int64(len(data)) - before
	if res.Kept != before || res.Fetched < missing || res.Fetched > missing+dup {
		t.Errorf("rerun received %d bytes (%d of them endgame copies) and kept %d; %d were missing, %d kept", res.Fetched, dup, res.Kept, missing, before)
	}
	t.Logf("rerun: kept %d bytes, %d missing, received %d (%d endgame copies)", res.Kept, missing, res.Fetched, dup)
}

func TestProbeLength(t *testing.T) {
	for _, size := range []int{0, 1, 2, 3, 1000, 1 << 20, 5<<20 + 7} {
		dir := t.TempDir()
		data, u := randomFile(t, dir, size)
		ts := serveDir(t, dir, 1)
		u = withServers(u, ts)
		u.Length = -1
		got, res, err := run(t, Config{URL: u}, "")
		if err != nil || !bytes.Equal(got, data) || res.Length != int64(size) {
			t.Errorf("size %d: length %d, %v", size, res.Length, err)
		}
	}
}
