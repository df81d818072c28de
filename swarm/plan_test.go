package swarm

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestPlanAssign(t *testing.T) {
	p := newPlan(10<<20+1, 1<<20, 2*time.Second) // 11 blocks
	var busy, quiet atomic.Int64                 // sessions' last-byte times
	busy.Store(time.Now().UnixNano())
	quiet.Store(time.Now().Add(-3 * time.Second).UnixNano())
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
		i, dup, ok := p.assign(0, last)
		if !ok || dup || i != want {
			t.Fatalf("assign = %d %v %v, want %d", i, dup, ok, want)
		}
	}
	// A block at the front held past the hedge time by a session that has
	// received nothing for as long is copied to another peer before any new
	// block is handed out; one whose session is receiving is left alone.
	p.blocks[0].since = time.Now().Add(-3 * time.Second)
	p.blocks[1].since = time.Now().Add(-3 * time.Second)
	if i, dup, ok := p.assign(1, &busy); !ok || !dup || i != 0 {
		t.Errorf("hedge: assign = %d %v %v, want a copy of block 0", i, dup, ok)
	}
	if i, dup, _ := p.assign(1, &busy); dup || i != 3 {
		t.Errorf("after the hedge: assign = %d %v, want block 3", i, dup)
	}
	// Released blocks come back first.
	p.release(1, 0, false)
	if i, dup, _ := p.assign(2, &busy); dup || i != 1 {
		t.Errorf("after release: assign = %d %v, want block 1", i, dup)
	}
	// Endgame: with every block taken, an idle peer copies the oldest.
	for {
		if _, dup, _ := p.assign(2, &busy); dup {
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
