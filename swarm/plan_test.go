package swarm

import (
	"math"
	"testing"
	"time"
)

func TestPlanAssign(t *testing.T) {
	p := newPlan(10<<20+1, 1<<20, 2*time.Second) // 11 blocks
	var busy, quiet sessionMark                  // sessions by their last-byte times
	busy.last.Store(time.Now().UnixNano())
	quiet.last.Store(time.Now().Add(-3 * time.Second).UnixNano())
	if n := len(p.blocks); n != 11 {
		t.Fatalf("%d blocks, want 11", n)
	}
	if off, n := p.span(10); off != 10<<20 || n != 1 {
		t.Errorf("last block span %d+%d", off, n)
	}
	// Blocks go out lowest first.
	for want := range 3 {
		last := &busy
		if want == 0 {
			last = &quiet
		}
		i, dup, ok := p.assign(0, holder{sessionMark: last})
		if !ok || dup || i != want {
			t.Fatalf("assign = %d %v %v, want %d", i, dup, ok, want)
		}
	}
	// A block at the front held past the hedge time by a session that has
	// received nothing for as long is copied to another peer before any new
	// block is handed out; one whose session is receiving is left alone.
	p.blocks[0].since = time.Now().Add(-3 * time.Second)
	p.blocks[1].since = time.Now().Add(-3 * time.Second)
	if i, dup, ok := p.assign(1, holder{sessionMark: &busy}); !ok || !dup || i != 0 {
		t.Errorf("hedge: assign = %d %v %v, want a copy of block 0", i, dup, ok)
	}
	if i, dup, _ := p.assign(1, holder{sessionMark: &busy}); dup || i != 3 {
		t.Errorf("after the hedge: assign = %d %v, want block 3", i, dup)
	}
	// Released blocks come back first.
	p.release(1, 0, false)
	if i, dup, _ := p.assign(2, holder{sessionMark: &busy}); dup || i != 1 {
		t.Errorf("after release: assign = %d %v, want block 1", i, dup)
	}
	// Endgame: with every block taken, an idle peer copies the oldest.
	for {
		if _, dup, _ := p.assign(2, holder{sessionMark: &busy}); dup {
			break
		}
	}
	b := &p.blocks[2]
	b.mu.Lock()
	p.finishLocked(2, 0, false)
	b.mu.Unlock()
	if p.blocks[2].by != 0 || p.low != 0 {
		t.Errorf("finish: by %d, low %d", p.blocks[2].by, p.low)
	}
	b = &p.blocks[0]
	b.mu.Lock()
	p.finishLocked(0, 1, true)
	b.mu.Unlock()
	if p.low != 1 {
		t.Errorf("low = %d after block 0 finished, want 1", p.low)
	}
}

// In the endgame a session copies a block held by another session of the
// same server only when that one is far behind it: measured at under a
// quarter of its rate, or silent for its stuck time.
func TestPlanSameServerCopies(t *testing.T) {
	// mark is a session measured at r bytes a second (0: not yet) that
	// last received a byte ago.
	mark := func(r float64, ago time.Duration) *sessionMark {
		var m sessionMark
		m.rate.Store(math.Float64bits(r))
		m.last.Store(time.Now().Add(-ago).UnixNano())
		return &m
	}
	for _, c := range []struct {
		name     string
		owner    holder
		asker    holder
		wantCopy bool
	}{
		{"same rate", holder{sessionMark: mark(4e6, 0)}, holder{mark(5e6, 0), time.Second}, false},
		{"a third of the rate", holder{sessionMark: mark(2e6, 0)}, holder{mark(6e6, 0), time.Second}, false},
		{"a tenth of the rate", holder{sessionMark: mark(1e6, 0)}, holder{mark(10e6, 0), time.Second}, true},
		{"owner not measured yet", holder{sessionMark: mark(0, 0)}, holder{mark(10e6, 0), time.Second}, true},
		{"a path under 5 ms (stuck 0)", holder{sessionMark: mark(0, 0)}, holder{sessionMark: mark(10e6, 0)}, false},
		{"a tenth of the rate, held briefly", holder{sessionMark: mark(1e6, 0)}, holder{mark(10e6, 0), 5 * time.Second}, false},
		{"asker not measured yet", holder{sessionMark: mark(1e6, 0)}, holder{mark(0, 0), time.Second}, false},
		{"no round trip yet", holder{sessionMark: mark(1e6, 0)}, holder{sessionMark: mark(10e6, 0)}, false},
		{"owner silent", holder{sessionMark: mark(5e6, 2*time.Second)}, holder{mark(5e6, 0), time.Second}, true},
	} {
		p := newPlan(2<<20, 1<<20, 0)
		for range 2 {
			i, dup, ok := p.assign(0, c.owner)
			if !ok || dup {
				t.Fatalf("%s: first assigns: %v %v", c.name, dup, ok)
			}
			p.blocks[i].since = time.Now().Add(-3 * time.Second) // held for 3 s
		}
		i, dup, ok := p.assign(0, c.asker)
		if ok != c.wantCopy || ok && !dup {
			t.Errorf("%s: assign = %d %v %v, want a copy %v", c.name, i, dup, ok, c.wantCopy)
		}
		// The owner itself never copies its own blocks.
		if _, _, ok := p.assign(0, c.owner); ok {
			t.Errorf("%s: the owner was given a copy of its own block", c.name)
		}
	}
}
