package server_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"lukechampine.com/blake3"

	"github.com/rtp-project/rtp/client"
	"github.com/rtp-project/rtp/outboard"
	"github.com/rtp-project/rtp/server"
	"github.com/rtp-project/rtp/urn"
	"github.com/rtp-project/rtp/wire"
)

// counts is a server.Metrics that records every call.
type counts struct {
	mu       sync.Mutex
	started  map[string]int
	ended    map[string]int
	rejected map[string]int
	opened   map[string]int
	inflight int
	maxIn    int
	reads    []server.ReadStat
	empty    int
	errs     int
}

func newCounts() *counts {
	return &counts{started: map[string]int{}, ended: map[string]int{}, rejected: map[string]int{}, opened: map[string]int{}}
}

func (c *counts) lock() func() { c.mu.Lock(); return c.mu.Unlock }

func (c *counts) SessionStarted(tr string) { defer c.lock()(); c.started[tr]++ }
func (c *counts) SessionEnded(tr string)   { defer c.lock()(); c.ended[tr]++ }
func (c *counts) SessionRejected(r string) { defer c.lock()(); c.rejected[r]++ }
func (c *counts) Opened(result string)     { defer c.lock()(); c.opened[result]++ }
func (c *counts) ReadStarted()             { defer c.lock()(); c.inflight++; c.maxIn = max(c.maxIn, c.inflight) }
func (c *counts) ReadDone(r server.ReadStat) {
	defer c.lock()()
	c.inflight--
	c.reads = append(c.reads, r)
}
func (c *counts) ReadAnswered(empty bool) {
	defer c.lock()()
	if empty {
		c.empty++
	} else {
		c.errs++
	}
}

// TestMetricsHooks checks the server reports each session, OPEN and READ
// once, with the bytes it sent, over every transport.
func TestMetricsHooks(t *testing.T) {
	data := random(3<<20 + 5)
	m := newCounts()
	f := newFixture(t, server.Config{Metrics: m, MaxSessionsPerHost: 3}, map[string][]byte{"a": data})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got bytes.Buffer
	for _, proto := range []string{"tcp", "tls", "quic"} {
		s, err := client.Dial(ctx, f.dials[proto], f.opts)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := s.Open(ctx, sha(data))
		if err != nil {
			t.Fatal(err)
		}
		// Four READs in flight at once, answered in any order.
		parts := make([]bytes.Buffer, 5)
		var calls []*client.Call
		for i := range parts {
			calls = append(calls, s.StartRead(tok, uint64(i)<<20, 1<<20, &parts[i])) // the last is empty
		}
		got.Reset()
		for i, c := range calls {
			if err := c.Wait(ctx); err != nil {
				t.Fatalf("%s: %v", proto, err)
			}
			got.Write(parts[i].Bytes())
		}
		if !bytes.Equal(got.Bytes(), data) {
			t.Fatalf("%s: wrong bytes", proto)
		}
		if _, err := s.Open(ctx, "urn:sha256:"+string(bytes.Repeat([]byte("0"), 64))); err == nil {
			t.Fatal("OPEN of an unknown hash succeeded")
		}
		if _, err := s.Open(ctx, "http://x"); err == nil {
			t.Fatal("OPEN of http: succeeded")
		}
		if err := s.StartRead(wire.Token{0xee, 0xee}, 0, 10, &got).Wait(ctx); err == nil {
			t.Fatal("READ of an unknown token succeeded")
		}
		if proto == "tcp" {
			ttok, err := s.Open(ctx, outboard.URI(urn.New(urn.BLAKE3, blake3.Sum256(data))))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.StartRead(ttok, 0, 1<<20, &bytes.Buffer{}).Wait(ctx); err != nil {
				t.Fatal(err)
			}
		}
		s.Close()
	}
	// Sessions end on the server a moment after the client closes.
	deadline := time.Now().Add(5 * time.Second)
	for {
		m.mu.Lock()
		n := m.ended["tcp"] + m.ended["tls"] + m.ended["quic"]
		m.mu.Unlock()
		if n == 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}

	defer m.lock()()
	for _, tr := range []string{"tcp", "tls", "quic"} {
		if m.started[tr] != 1 || m.ended[tr] != 1 {
			t.Errorf("%s: %d sessions started, %d ended; want 1, 1", tr, m.started[tr], m.ended[tr])
		}
	}
	if m.opened[server.OpenOK] != 4 || m.opened[server.OpenNotFound] != 3 || m.opened[server.OpenUnsupportedScheme] != 3 {
		t.Errorf("OPENs %v; want ok 4, not_found 3, unsupported_scheme 3", m.opened)
	}
	var blob, tree int64
	for _, r := range m.reads {
		if r.Failed || r.Elapsed <= 0 {
			t.Errorf("READ %+v: want sent, with a duration", r)
		}
		if r.Tree {
			tree += r.Bytes
		} else {
			blob += r.Bytes
		}
	}
	if want := 3 * int64(len(data)); blob != want || len(m.reads) != 3*4+1 {
		t.Errorf("%d READs of %d blob bytes; want 13 of %d", len(m.reads), blob, want)
	}
	if want := outboard.Size(int64(len(data))); tree != want {
		t.Errorf("%d tree bytes, want %d", tree, want)
	}
	if m.inflight != 0 || m.maxIn < 1 {
		t.Errorf("in flight %d at the end (max %d); want 0", m.inflight, m.maxIn)
	}
	if m.empty != 3 || m.errs != 3 {
		t.Errorf("%d empty and %d error READ answers; want 3 and 3", m.empty, m.errs)
	}
}

// TestMetricsRejected checks refused sessions are counted by reason.
func TestMetricsRejected(t *testing.T) {
	m := newCounts()
	f := newFixture(t, server.Config{Metrics: m, MaxSessionsPerHost: 1}, map[string][]byte{"a": []byte("a")})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	first := dialFrom(t, f.dials["tcp"], "127.0.0.1")
	if _, err := first.Open(ctx, sha([]byte("a"))); err != nil {
		t.Fatal(err)
	}
	if _, err := dialFrom(t, f.dials["tcp"], "127.0.0.1").Open(ctx, sha([]byte("a"))); err == nil {
		t.Fatal("a second session from 127.0.0.1 was served past MaxSessionsPerHost=1")
	}
	defer m.lock()()
	if m.rejected[server.RejectMaxPerHost] != 1 {
		t.Errorf("rejected %v; want max_sessions_per_host 1", m.rejected)
	}
}
