package edge

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"lukechampine.com/blake3"

	"github.com/rtp-project/rtp/internal/rtpdtest"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/server"
	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/swarm"
	"github.com/rtp-project/rtp/urn"
)

// quiet is the logger of the servers, edges and downloads under test:
// silent, or every line on stderr with EDGE_DEBUG=1.
var quiet = slog.New(slog.NewTextHandler(debugOut(), &slog.HandlerOptions{Level: slog.LevelDebug}))

func debugOut() io.Writer {
	if os.Getenv("EDGE_DEBUG") != "" {
		return os.Stderr
	}
	return io.Discard
}

// randomBytes returns n reproducible random bytes.
func randomBytes(seed byte, n int) []byte {
	rng := mrand.New(mrand.NewChaCha8([32]byte{seed}))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := rng.Uint64()
		for k := range 8 {
			b[i+k] = byte(v >> (8 * k))
		}
	}
	return b
}

func b3Of(b []byte) urn.Hash { return urn.New(urn.BLAKE3, blake3.Sum256(b)) }

// origin is a real RTP server on loopback over a real disk store, seen
// through a wrapper that counts what it sends and can hold back or corrupt
// payload reads.
type origin struct {
	dial  rtpurl.Dial
	disk  *store.Disk
	opens atomic.Int64 // blob OPENs
	sent  atomic.Int64 // blob bytes read for READs

	gateAt  int64         // payload reads reaching past it wait for gate
	gate    chan struct{} // nil: no gate
	reached chan struct{} // closed when a read first waits at the gate
	once    sync.Once

	corruptFrom int64 // >0: bytes at or past it are flipped
}

// newOrigin serves files (name -> bytes) from a folder of the test's.
func newOrigin(t testing.TB, files map[string][]byte, set func(*origin)) *origin {
	t.Helper()
	dir := t.TempDir()
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	o := &origin{reached: make(chan struct{})}
	if set != nil {
		set(o)
	}
	o.dial, _ = rtpdtest.ServeInProcess(t, dir, func(s store.Opener) store.Opener {
		o.disk = s.(*store.Disk)
		return o
	})
	return o
}

func (o *origin) Open(ctx context.Context, h urn.Hash) (store.Blob, error) {
	o.opens.Add(1)
	b, err := o.disk.Open(ctx, h)
	if err != nil {
		return nil, err
	}
	return &originBlob{Blob: b, o: o}, nil
}

func (o *origin) OpenTree(ctx context.Context, h urn.Hash) (store.Blob, error) {
	return o.disk.OpenTree(ctx, h)
}

func (o *origin) List(ctx context.Context, fn func(store.Entry) error) error {
	return o.disk.List(ctx, fn)
}

type originBlob struct {
	store.Blob
	o *origin
}

// ReadRange holds back a READ reaching past gateAt until the gate opens,
// before the server takes the session's write lock, as a slow store would:
// a READ held in ReadAt would hold every other READ of its session behind
// it, and the fill would wait for its stall timeout, again and again.
func (b *originBlob) ReadRange(ctx context.Context, off, n int64, fn func(io.Reader) error) error {
	o := b.o
	if o.gate != nil && n > 1 && off+n > o.gateAt {
		o.once.Do(func() { close(o.reached) })
		select {
		case <-o.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return fn(io.NewSectionReader(b, off, n))
}

// ReadAt holds back payload reads past gateAt until the gate opens; the
// length probe's one-byte reads pass.
func (b *originBlob) ReadAt(p []byte, off int64) (int, error) {
	o := b.o
	if o.gate != nil && len(p) > 1 && off+int64(len(p)) > o.gateAt {
		o.once.Do(func() { close(o.reached) })
		<-o.gate
	}
	n, err := b.Blob.ReadAt(p, off)
	if len(p) > 1 {
		o.sent.Add(int64(n))
	}
	if o.corruptFrom > 0 {
		for i := range n {
			if off+int64(i) >= o.corruptFrom {
				p[i] ^= 0x55
			}
		}
	}
	return n, err
}

// newEdge opens an edge of ups over a cache folder and serves it on
// loopback; both end with the test.
func newEdge(t testing.TB, dir string, maxBytes int64, ups ...rtpurl.Dial) (*Edge, rtpurl.Dial) {
	t.Helper()
	e, err := Open(Config{Upstreams: ups, Dir: dir, MaxBytes: maxBytes, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return e, serve(t, e)
}

func serve(t testing.TB, e *Edge) rtpurl.Dial {
	t.Helper()
	srv := server.New(server.Config{Store: e, Logger: quiet})
	l, err := srv.Listen(rtpurl.Dial{Proto: rtpurl.TCP, Host: "127.0.0.1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.ServeListener(ctx, l); close(done) }()
	t.Cleanup(func() {
		now, expired := context.WithCancel(context.Background())
		expired()
		srv.Shutdown(now)
		cancel()
		<-done
		e.Close()
	})
	return l.Dial
}

// download fetches h from servers with package swarm into a file of the
// test's and returns its bytes. out, if not nil, sees every write. It may
// run on a goroutine of its own: it fails by its error, never t.Fatal.
func download(t testing.TB, h urn.Hash, servers []rtpurl.Dial, out func(swarm.Output) swarm.Output) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f, err := os.CreateTemp(t.TempDir(), "dl-*")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var o swarm.Output = f
	if out != nil {
		o = out(f)
	}
	d := swarm.New(swarm.Config{URL: &rtpurl.URL{Hashes: []urn.Hash{h}, Length: -1, Servers: servers}, Log: quiet, RetryFor: 5 * time.Second})
	if _, err := d.Run(ctx, o, "", nil); err != nil {
		return nil, err
	}
	return os.ReadFile(f.Name())
}

// firstWrite is an Output that closes first at its first write.
type firstWrite struct {
	swarm.Output
	once  *sync.Once
	first chan struct{}
}

func (w firstWrite) WriteAt(p []byte, off int64) (int, error) {
	w.once.Do(func() { close(w.first) })
	return w.Output.WriteAt(p, off)
}

// waitFill waits for the fill of h under way, if any, to end.
func waitFill(t *testing.T, e *Edge, h urn.Hash) {
	t.Helper()
	e.mu.Lock()
	f := e.fills[h]
	e.mu.Unlock()
	if f == nil {
		return
	}
	select {
	case <-f.done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("the fill of %s did not end", h)
	}
}

// readAll opens h on e and reads it whole through the blob.
func readAll(t *testing.T, e *Edge, h urn.Hash) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := e.Open(ctx, h)
	if err != nil {
		t.Fatalf("open %s: %v", h, err)
	}
	defer b.Close()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, io.NewSectionReader(b, 0, b.Size())); err != nil {
		t.Fatalf("read %s: %v", h, err)
	}
	return buf.Bytes()
}
