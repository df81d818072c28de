package edge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rtp-project/rtp/client"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/swarm"
	"github.com/rtp-project/rtp/urn"
	"github.com/rtp-project/rtp/wire"
)

// Eight clients open one hash the edge lacks, at once: the origin sends
// it once, every client gets it exact, and the first payload byte reaches
// a client while the fill is still under way — the origin holds back the
// second half until a client has written its first byte.
func TestEightClientsOneFill(t *testing.T) {
	const size = 24 << 20
	data := randomBytes(1, size)
	h := b3Of(data)
	gate := make(chan struct{})
	o := newOrigin(t, map[string][]byte{"blob": data}, func(o *origin) { o.gate, o.gateAt = gate, size/2 })
	openGate := closer(t, gate)
	e, dial := newEdge(t, t.TempDir(), 1<<30, o.dial)

	first := make(chan struct{})
	var once sync.Once
	got := make([][]byte, 8)
	errs := make([]error, 8)
	var wg sync.WaitGroup
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = download(t, h, []rtpurl.Dial{dial}, func(out swarm.Output) swarm.Output {
				return firstWrite{out, &once, first}
			})
		}()
	}
	select {
	case <-first:
	case <-time.After(time.Minute):
		openGate()
		wg.Wait()
		t.Fatal("no client received a byte while the origin held back the second half")
	}
	// The origin has not sent the second half: the fill cannot be done.
	st := e.Stats()
	if st.FillsDone != 0 || o.sent.Load() >= size {
		t.Errorf("first byte at a client after the fill ended: %+v, origin sent %d of %d", st, o.sent.Load(), size)
	}
	openGate()
	wg.Wait()
	for i := range got {
		if errs[i] != nil || !bytes.Equal(got[i], data) {
			t.Errorf("client %d: %d bytes, err %v; want the %d bytes exact", i, len(got[i]), errs[i], size)
		}
	}
	waitFill(t, e, h)
	st = e.Stats()
	sent := o.sent.Load()
	t.Logf("origin sent %d bytes for a %d-byte blob to 8 clients; edge %+v", sent, size, st)
	// Once: endgame and hedged copies of a few blocks may go twice, never
	// the blob.
	if sent < size || sent > size+size/2 {
		t.Errorf("origin sent %d bytes; want the %d-byte blob once", sent, size)
	}
	if st.Misses != 1 || st.FillsDone != 1 || st.Blobs != 1 {
		t.Errorf("stats %+v; want one miss, one fill done, one blob held", st)
	}
}

// A hash no upstream holds is "not found", and the negative cache answers
// the next OPEN without asking the origin, until its TTL has passed.
func TestNotFoundAndNegativeCache(t *testing.T) {
	o := newOrigin(t, map[string][]byte{"a": []byte("held")}, nil)
	now := time.Unix(1e9, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e, err := Open(Config{Upstreams: []rtpurl.Dial{o.dial}, Dir: t.TempDir(), MaxBytes: 1 << 20, NegativeTTL: time.Minute, Log: quiet, now: clock})
	if err != nil {
		t.Fatal(err)
	}
	dial := serve(t, e)
	missing := b3Of([]byte("nobody has this"))

	// Over the wire: "not found".
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := client.Dial(ctx, dial, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Open(ctx, missing.String())
	var we *wire.Error
	if !errors.As(err, &we) || we.Kind != wire.KindNotFound {
		t.Fatalf("OPEN of a hash nobody holds: %v; want not found", err)
	}
	if n := o.opens.Load(); n != 1 {
		t.Fatalf("origin saw %d OPENs; want 1", n)
	}
	// Remembered: the origin is not asked again.
	for range 3 {
		if _, err := e.Open(ctx, missing); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("second OPEN: %v; want not found", err)
		}
	}
	if n, st := o.opens.Load(), e.Stats(); n != 1 || st.NegativeHits != 3 || st.Negative != 1 {
		t.Fatalf("origin saw %d OPENs, edge %+v; want 1 OPEN and 3 negative hits", n, st)
	}
	// Past the TTL it asks again.
	mu.Lock()
	now = now.Add(time.Minute + time.Second)
	mu.Unlock()
	if _, err := e.Open(ctx, missing); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("OPEN past the TTL: %v; want not found", err)
	}
	if n := o.opens.Load(); n != 2 {
		t.Fatalf("origin saw %d OPENs after the TTL; want 2", n)
	}
}

// Whole blobs are evicted least recently used first, never one being read,
// and the cache stays within its size plus the blobs in use.
func TestEvictLeastRecentlyUsed(t *testing.T) {
	const size = 1 << 20
	blobs := map[string][]byte{}
	hs := map[string]urn.Hash{}
	for i, name := range []string{"a", "b", "c", "d"} {
		blobs[name] = randomBytes(byte(10+i), size)
		hs[name] = b3Of(blobs[name])
	}
	o := newOrigin(t, blobs, nil)
	dir := t.TempDir()
	const limit = 5 * size / 2
	e, _ := newEdge(t, dir, limit, o.dial)
	fetch := func(name string) {
		t.Helper()
		if got := readAll(t, e, hs[name]); !bytes.Equal(got, blobs[name]) {
			t.Fatalf("%s: wrong bytes", name)
		}
		waitFill(t, e, hs[name])
	}
	held := func() map[string]bool {
		m := map[string]bool{}
		for name, h := range hs {
			if _, err := os.Stat(filepath.Join(dir, "blobs", h.Hex())); err == nil {
				m[name] = true
			}
		}
		return m
	}
	fetch("a")
	fetch("b")
	fetch("a") // a hit: a is now the most recently used
	fetch("c") // 3 MiB > 2.5 MiB: b goes
	if h := held(); !h["a"] || h["b"] || !h["c"] {
		t.Fatalf("held %v after a, b, a, c; want a and c", h)
	}
	if st := e.Stats(); st.Bytes > limit || st.Evictions != 1 || st.Hits != 1 {
		t.Fatalf("stats %+v; want at most %d bytes, 1 eviction, 1 hit", st, limit)
	}

	// c is being read: filling d evicts a, the least recently used, not c.
	ctx := context.Background()
	open, err := e.Open(ctx, hs["c"])
	if err != nil {
		t.Fatal(err)
	}
	fetch("d")
	if h := held(); h["a"] || !h["c"] || !h["d"] {
		t.Fatalf("held %v with c open; want c and d", h)
	}
	// With c still open, a fresh fill of a (1 MiB) has to go over the size
	// by the blob in use: d goes, c stays.
	fetch("a")
	if h := held(); !h["a"] || !h["c"] || h["d"] {
		t.Fatalf("held %v; want a and c (c in use)", h)
	}
	st := e.Stats()
	if st.Bytes > limit+size {
		t.Fatalf("cache holds %d bytes; want at most %d plus one blob in use", st.Bytes, limit)
	}
	open.Close()
	t.Logf("after a, b, a, c, d, a: %+v", st)
}

// A sibling edge (a request from the address of an upstream) is answered
// from what the edge holds and starts no fill, so two edges that list each
// other never wait on each other.
func TestSiblingStartsNoFill(t *testing.T) {
	data := []byte("held by the origin only")
	o := newOrigin(t, map[string][]byte{"a": data}, nil)
	sib := rtpurl.Dial{Proto: rtpurl.TCP, Host: "192.0.2.7", Port: 7777} // TEST-NET-1: unreachable
	e, err := Open(Config{Upstreams: []rtpurl.Dial{o.dial, sib}, Dir: t.TempDir(), MaxBytes: 1 << 20, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := store.WithRemote(context.Background(), &net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 40000})
	if _, err := e.Open(ctx, b3Of(data)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("sibling's OPEN of a blob not held: %v; want not found", err)
	}
	if n, st := o.opens.Load(), e.Stats(); n != 0 || st.Misses != 0 {
		t.Fatalf("origin saw %d OPENs, edge %+v; want no fill", n, st)
	}
	// A client's OPEN fills it; then the sibling gets it too.
	if got := readAll(t, e, b3Of(data)); !bytes.Equal(got, data) {
		t.Fatal("client read wrong bytes")
	}
	waitFill(t, e, b3Of(data))
	b, err := e.Open(ctx, b3Of(data))
	if err != nil {
		t.Fatalf("sibling's OPEN of a blob held: %v", err)
	}
	b.Close()
}

// An upstream that sends wrong bytes is banned by the fill, and nothing
// wrong is served: with an honest upstream beside it the clients get the
// blob exact; alone, READs of its bad bytes fail.
func TestLyingUpstream(t *testing.T) {
	const size = 4 << 20
	data := randomBytes(3, size)
	h := b3Of(data)
	liar := newOrigin(t, map[string][]byte{"blob": data}, func(o *origin) { o.corruptFrom = size / 2 })
	honest := newOrigin(t, map[string][]byte{"blob": data}, nil)

	_, dial := newEdge(t, t.TempDir(), 1<<30, liar.dial, honest.dial)
	got, err := download(t, h, []rtpurl.Dial{dial}, nil)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("through an edge of a liar and an honest origin: %d bytes, %v; want the blob exact", len(got), err)
	}
	if honest.sent.Load() == 0 {
		t.Errorf("the honest origin sent nothing")
	}

	// The liar alone: nothing past its first lie is ever served.
	e2, dial2 := newEdge(t, t.TempDir(), 1<<30, liar.dial)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := client.Dial(ctx, dial2, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tok, err := s.Open(ctx, h.String())
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	// The first half is honest: served if the fill got it before it
	// failed, exact either way.
	n, err := s.ReadAt(ctx, tok, buf, 0)
	if !bytes.Equal(buf[:n], data[:n]) {
		t.Fatalf("READ of the first MiB: %d bytes, %v, not the blob's", n, err)
	}
	for off := int64(size / 2); off < size; off += 1 << 20 {
		n, err := s.ReadAt(ctx, tok, buf, uint64(off))
		if err == nil || n > 0 {
			t.Fatalf("READ at %d from an edge of a liar: %d bytes, %v; want an error", off, n, err)
		}
	}
	waitFill(t, e2, h)
	if st := e2.Stats(); st.FillsFailed != 1 || st.Blobs != 0 {
		t.Fatalf("edge of a liar: %+v; want one failed fill and nothing held", st)
	}
}

// A sha256 urn has no tree on the wire: its fill is verified whole, then
// the blob is served by both urns, its tree included.
func TestSHA256Fill(t *testing.T) {
	data := randomBytes(4, 3<<20+77)
	o := newOrigin(t, map[string][]byte{"blob": data}, nil)
	e, dial := newEdge(t, t.TempDir(), 1<<30, o.dial)
	sums, err := urn.HashReader(bytes.NewReader(data), nil, urn.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	sha := urn.New(urn.SHA256, sums.SHA256)
	got, err := download(t, sha, []rtpurl.Dial{dial}, nil)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("by sha256: %d bytes, %v", len(got), err)
	}
	waitFill(t, e, sha)
	got, err = download(t, b3Of(data), []rtpurl.Dial{dial}, nil)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("by blake3 after: %d bytes, %v", len(got), err)
	}
	tree, err := e.OpenTree(context.Background(), b3Of(data))
	if err != nil {
		t.Fatalf("tree of a blob filled by sha256: %v", err)
	}
	tree.Close()
	if st := e.Stats(); st.Misses != 1 || st.Hits < 1 {
		t.Fatalf("stats %+v; want one fill, then hits", st)
	}
}

// Edges chain: an edge whose upstream is an edge of the origin.
func TestChainedEdges(t *testing.T) {
	const size = 6 << 20
	data := randomBytes(5, size)
	o := newOrigin(t, map[string][]byte{"blob": data}, nil)
	_, dial1 := newEdge(t, t.TempDir(), 1<<30, o.dial)
	_, dial2 := newEdge(t, t.TempDir(), 1<<30, dial1)
	got, err := download(t, b3Of(data), []rtpurl.Dial{dial2}, nil)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("through two edges: %d bytes, %v", len(got), err)
	}
	if sent := o.sent.Load(); sent < size || sent > size+size/4 {
		t.Fatalf("origin sent %d bytes; want the %d-byte blob once", sent, size)
	}
}

// A fill stopped midway (the edge closed) resumes when the edge opens
// again: fewer bytes come from the upstream than the whole blob, and the
// blob is exact.
func TestResumeAfterClose(t *testing.T) {
	const size = 16 << 20
	data := randomBytes(6, size)
	h := b3Of(data)
	gate := make(chan struct{})
	o := newOrigin(t, map[string][]byte{"blob": data}, func(o *origin) { o.gate, o.gateAt = gate, size/2 })
	openGate := closer(t, gate)
	dir := t.TempDir()
	e, err := Open(Config{Upstreams: []rtpurl.Dial{o.dial}, Dir: dir, MaxBytes: 1 << 30, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := e.Open(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	// The first half arrives; the origin holds back the second.
	if _, err := b.ReadAt(make([]byte, 1), size/2-1); err != nil {
		t.Fatal(err)
	}
	<-o.reached
	// Swarm counts a block done once its READ has ended, a moment after
	// its bytes are in, and saves its resume state every 2 s: wait until
	// the state lists a quarter of the blob.
	state := filepath.Join(dir, "fill", "blake3-"+h.Hex()+".part.state")
	pollUntil(t, "the resume state lists a quarter of the blob", func() bool { return doneBytes(state) >= size/4 })
	b.Close()
	closed := make(chan error, 1)
	go func() { closed <- e.Close() }() // saves the resume state
	// Close waits for the fill, whose sessions wait at the gate until
	// the stall timeout or the gate: open it once Close has cancelled.
	waitCancelled(t, e)
	openGate()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	before := o.sent.Load()
	e2, err := Open(Config{Upstreams: []rtpurl.Dial{o.dial}, Dir: dir, MaxBytes: 1 << 30, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	if got := readAll(t, e2, h); !bytes.Equal(got, data) {
		t.Fatal("resumed fill: wrong bytes")
	}
	waitFill(t, e2, h)
	again := o.sent.Load() - before
	t.Logf("first run: origin sent %d; resumed: %d more, of %d", before, again, size)
	if again >= size {
		t.Fatalf("resumed fill fetched %d bytes; want fewer than the whole %d", again, size)
	}
}

// closer returns a function that closes c once; it also runs when the test
// ends, before the servers registered earlier stop.
func closer(t *testing.T, c chan struct{}) func() {
	var once sync.Once
	f := func() { once.Do(func() { close(c) }) }
	t.Cleanup(f)
	return f
}

// pollUntil waits, up to a minute, until cond holds.
func pollUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for: %s", what)
		}
	}
}

// doneBytes reads a swarm resume state and returns the bytes it lists as
// done, or 0.
func doneBytes(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	var st swarm.State
	if json.Unmarshal(b, &st) != nil {
		return 0
	}
	var n int64
	for i := int64(0); i*st.BlockSize < st.Length; i++ {
		if i/8 < int64(len(st.Done)) && st.Done[i/8]&(1<<(i%8)) != 0 {
			n += min(st.BlockSize, st.Length-i*st.BlockSize)
		}
	}
	return n
}

func waitCancelled(t *testing.T, e *Edge) {
	t.Helper()
	select {
	case <-e.ctx.Done():
	case <-time.After(time.Minute):
		t.Fatal("edge not closing")
	}
}
