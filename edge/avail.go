package edge

import (
	"context"
	"sort"
	"sync"
)

// avail is the set of byte ranges of a blob being filled that have been
// checked against its BLAKE3 tree and written to the .part file: READs of
// them are answered while the fill goes on. Waiters sleep until the range
// they need is in, the fill ends, or their context ends.
type avail struct {
	mu     sync.Mutex
	spans  []span        // sorted, disjoint, not adjacent
	all    bool          // every byte is in (the fill completed)
	failed error         // the fill ended without them
	wake   chan struct{} // closed and replaced at every change
}

type span struct{ lo, hi int64 }

func newAvail() *avail { return &avail{wake: make(chan struct{})} }

// add records [lo, hi) as in.
func (a *avail) add(lo, hi int64) {
	if lo >= hi {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	// The first span that ends at or after lo, and the first that starts
	// after hi: those between merge with [lo, hi).
	i := sort.Search(len(a.spans), func(k int) bool { return a.spans[k].hi >= lo })
	j := sort.Search(len(a.spans), func(k int) bool { return a.spans[k].lo > hi })
	if i < j {
		lo = min(lo, a.spans[i].lo)
		hi = max(hi, a.spans[j-1].hi)
	}
	a.spans = append(a.spans[:i], append([]span{{lo, hi}}, a.spans[j:]...)...)
	a.changed()
}

// complete marks every byte in: the fill verified the whole blob.
func (a *avail) complete() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.all = true
	a.changed()
}

// fail ends the waits for ranges not in with err.
func (a *avail) fail(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.all && a.failed == nil {
		a.failed = err
		a.changed()
	}
}

func (a *avail) changed() {
	close(a.wake)
	a.wake = make(chan struct{})
}

// has reports whether [lo, hi) is in; a.mu is held.
func (a *avail) hasLocked(lo, hi int64) bool {
	if a.all || lo >= hi {
		return true
	}
	i := sort.Search(len(a.spans), func(k int) bool { return a.spans[k].hi > lo })
	return i < len(a.spans) && a.spans[i].lo <= lo && a.spans[i].hi >= hi
}

// wait returns nil once [lo, hi) is in, the fill's error if it ended
// without them, or ctx's error.
func (a *avail) wait(ctx context.Context, lo, hi int64) error {
	for {
		a.mu.Lock()
		if a.hasLocked(lo, hi) {
			a.mu.Unlock()
			return nil
		}
		if a.failed != nil {
			err := a.failed
			a.mu.Unlock()
			return err
		}
		wake := a.wake
		a.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// bytes returns how many bytes are in, for a blob of size n.
func (a *avail) bytes(n int64) int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.all {
		return n
	}
	var t int64
	for _, s := range a.spans {
		t += s.hi - s.lo
	}
	return t
}
