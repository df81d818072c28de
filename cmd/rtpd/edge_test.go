package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"lukechampine.com/blake3"

	"github.com/rtp-project/rtp/client"
	"github.com/rtp-project/rtp/internal/rtpdtest"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/swarm"
	"github.com/rtp-project/rtp/urn"
)

// edgeOfFolder serves dir from an origin rtpd process and returns the
// arguments that make rtpd serve an edge of it, over an empty cache.
func edgeOfFolder(t *testing.T, dir string) []string {
	t.Helper()
	origin := rtpdtest.Start(t, dir, "--listen", "tcp!127.0.0.1!0")
	return []string{"--upstream", origin.Dials[0], "--cache", t.TempDir(), "--cache-size", "1G"}
}

func TestParseSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64 // 0: an error
	}{
		{"50G", 50 << 30}, {"50GiB", 50 << 30}, {"50GB", 50e9}, {"1T", 1 << 40},
		{"500M", 500 << 20}, {"1.5G", 3 << 29}, {"4096", 4096}, {"10K", 10 << 10}, {" 2 G ", 2 << 30},
		{"", 0}, {"G", 0}, {"-1G", 0}, {"0", 0}, {"10X", 0}, {"NaNG", 0}, {"1e30T", 0},
	} {
		got, err := parseSize(c.in)
		if c.want == 0 {
			if err == nil {
				t.Errorf("parseSize(%q) = %d; want an error", c.in, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
}

// Edge flags that do not fit exit 2 with one line that says why.
func TestEdgeFlagsExit2(t *testing.T) {
	cache := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--upstream", "tcp!127.0.0.1!1"}, "--cache DIR"},
		{[]string{"--upstream", "tcp!127.0.0.1!1", "--cache", cache}, "--cache-size"},
		{[]string{"--upstream", "tcp!127.0.0.1!1", "--cache", cache, "--cache-size", "lots"}, "not a size"},
		{[]string{"--upstream", "tcp!127.0.0.1!1", "--cache", cache, "--cache-size", "1G", "./blobs"}, "not a folder argument"},
		{[]string{"--upstream", "udp!127.0.0.1!1", "--cache", cache, "--cache-size", "1G"}, "--upstream"},
		{[]string{"--upstream", "tcp!127.0.0.1!1", "--cache", cache, "--cache-size", "1G", "--no-trees"}, "for a folder"},
		{[]string{"--cache", cache, "./blobs"}, "--cache is for an edge"},
		{[]string{"--cache-size", "1G", "./blobs"}, "--cache-size is for an edge"},
	} {
		_, stderr, code := rtpdtest.Run(t, rtpdtest.RTPD, append([]string{"serve"}, c.args...)...)
		if code != 2 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("rtpd serve %v: exit %d, %q; want 2 and one line with %q", c.args, code, stderr, c.want)
		}
	}
}

// gated is an origin's store that holds back payload reads past gateAt
// until gate is closed, and counts the blob bytes it reads for READs.
type gated struct {
	disk   *store.Disk
	gateAt int64
	gate   chan struct{}
	sent   atomic.Int64
}

func (g *gated) Open(ctx context.Context, h urn.Hash) (store.Blob, error) {
	b, err := g.disk.Open(ctx, h)
	if err != nil {
		return nil, err
	}
	return &gatedBlob{b, g}, nil
}

func (g *gated) OpenTree(ctx context.Context, h urn.Hash) (store.Blob, error) {
	return g.disk.OpenTree(ctx, h)
}

type gatedBlob struct {
	store.Blob
	g *gated
}

func (b *gatedBlob) ReadAt(p []byte, off int64) (int, error) {
	if len(p) > 1 && off+int64(len(p)) > b.g.gateAt {
		<-b.g.gate // the length probe's one-byte reads pass
	}
	n, err := b.Blob.ReadAt(p, off)
	if len(p) > 1 {
		b.g.sent.Add(int64(n))
	}
	return n, err
}

// kill -9 of an edge process mid-fill: restarted, it resumes the fill
// (the origin sends less than the whole blob again), and every byte any
// client gets, before and after, is right.
func TestEdgeKill9ResumesFill(t *testing.T) {
	const size = 48 << 20
	data := make([]byte, size)
	rng := mrand.New(mrand.NewChaCha8([32]byte{'e', 'd', 'g', 'e'}))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "blob"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	h := urn.New(urn.BLAKE3, blake3.Sum256(data))
	g := &gated{gateAt: size / 2, gate: make(chan struct{})}
	gateOpen := false
	defer func() {
		if !gateOpen {
			close(g.gate)
		}
	}()
	origin, _ := rtpdtest.ServeInProcess(t, dir, func(s store.Opener) store.Opener {
		g.disk = s.(*store.Disk)
		return g
	})
	cache := t.TempDir()
	edge := rtpdtest.Start(t, "", "--listen", "tcp!127.0.0.1!0", "--metrics", "tcp!127.0.0.1!0",
		"--upstream", origin.String(), "--cache", cache, "--cache-size", "1G")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// A client reads the first MiB while the fill goes on.
	d, err := rtpurl.ParseDial(edge.Dials[0])
	if err != nil {
		t.Fatal(err)
	}
	s, err := client.Dial(ctx, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.Open(ctx, h.String())
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	if n, err := s.ReadAt(ctx, tok, buf, 0); err != nil || !bytes.Equal(buf[:n], data[:n]) || n == 0 {
		t.Fatalf("first MiB from the edge mid-fill: %d bytes, %v", n, err)
	}
	s.Close()

	// Wait until the edge's resume state lists a quarter of the blob.
	state := filepath.Join(cache, "fill", "blake3-"+h.Hex()+".part.state")
	pollUntil(t, "the edge's resume state lists a quarter of the blob", func() bool { return doneBytes(state) >= size/4 })
	kept := doneBytes(state)
	edge.Kill()
	close(g.gate)
	gateOpen = true
	before := g.sent.Load()

	edge.Restart()
	got := fetchFrom(t, ctx, h, edge.Dials[0])
	if !bytes.Equal(got, data) {
		t.Fatalf("after the restart: %d bytes, not the blob", len(got))
	}
	again := g.sent.Load() - before
	// The fill ends (hashed, renamed, recorded) just after its last bytes
	// are served.
	var m map[string]float64
	pollUntil(t, "the edge counts its fill done", func() bool {
		m = rtpdtest.Scrape(t, "http://"+address(t, edge.Metrics[0])+"/metrics")
		return m[`rtpd_edge_fills_total{result="done"}`] == 1
	})
	filled := m["rtpd_edge_fill_bytes_total"]
	t.Logf("killed with %d bytes listed done; origin sent %d before, %d after the restart; edge's rtpd_edge_fill_bytes_total %.0f", kept, before, again, filled)
	if again >= size || filled >= size {
		t.Errorf("the restarted edge fetched %d bytes (metric %.0f); want fewer than the whole %d", again, filled, size)
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

// fetchFrom downloads h from the server at dial with package swarm.
func fetchFrom(t *testing.T, ctx context.Context, h urn.Hash, dial string) []byte {
	t.Helper()
	d, err := rtpurl.ParseDial(dial)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.CreateTemp(t.TempDir(), "dl-*")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dl := swarm.New(swarm.Config{URL: &rtpurl.URL{Hashes: []urn.Hash{h}, Length: -1, Servers: []rtpurl.Dial{d}},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if _, err := dl.Run(ctx, f, "", nil); err != nil {
		t.Fatalf("download %s from %s: %v", h, dial, err)
	}
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return b
}
