package swarm

import (
	"testing"
	"time"
)

// link is a path for a flow to measure: a round trip and a rate. A round
// with w READs of bsize in flight carries what the window or the link
// allows, whichever is less.
type link struct {
	rtt  time.Duration
	rate float64 // bytes/s
}

// rounds runs n rounds of f over l and returns the windows it chose.
func (l link) rounds(f *flow, n int, now *time.Time, delivered *int64) []int {
	var ws []int
	for range n {
		w := f.window
		bsize := float64(f.bsize)
		perRead := l.rtt.Seconds() + bsize/l.rate // one READ alone: a round trip and its bytes
		dur := max(perRead, float64(w)*bsize/l.rate)
		sent := *now
		first := f.sent()
		for range w - 1 {
			f.sent()
		}
		*now = now.Add(time.Duration(dur * float64(time.Second)))
		*delivered += int64(float64(w) * bsize)
		f.done(first, sent, sent.Add(l.rtt), *delivered, *now)
		ws = append(ws, f.window)
	}
	return ws
}

func TestFlowWindow(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		name     string
		link     link
		min, max int // the window after 40 rounds
	}{
		// 100 MB/s over 100 ms: 9.5 READs in a round trip, twice that held.
		{"long fat path", link{100 * time.Millisecond, 100e6}, 18, 26},
		// 1 GB/s over 300 ms would want 600: the ceiling.
		{"past the cap", link{300 * time.Millisecond, 1e9}, 64, 64},
		// Loopback: the floor is more than enough.
		{"loopback", link{100 * time.Microsecond, 2e9}, 4, 4},
		// A slow link with a short round trip: the floor already queues.
		{"slow link", link{20 * time.Millisecond, 4e6}, 4, 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			now := time.Unix(1000, 0)
			var delivered int64
			f := newFlow(4, 64, mib, now)
			ws := c.link.rounds(f, 40, &now, &delivered)
			// Round 40 is a probe round (a quarter more); 39 is not.
			got := ws[38]
			t.Logf("windows %v", ws)
			if got < c.min || got > c.max || f.startup {
				t.Errorf("window %d after 39 rounds (startup %v), want %d..%d; windows %v", got, f.startup, c.min, c.max, ws)
			}
			for i, w := range ws {
				if w < 4 || w > 64 {
					t.Fatalf("round %d: window %d outside 4..64", i, w)
				}
			}
			if c.min > 4 && ws[0] != 8 {
				t.Errorf("first round on a window-limited path: window %d, want it doubled to 8", ws[0])
			}
		})
	}
}

// A link that slows down: the window follows the rate down, to the floor.
func TestFlowShrinks(t *testing.T) {
	now := time.Unix(1000, 0)
	var delivered int64
	f := newFlow(4, 64, 1<<20, now)
	fast := link{100 * time.Millisecond, 100e6}
	ws := fast.rounds(f, 30, &now, &delivered)
	high := ws[len(ws)-2]
	slow := link{100 * time.Millisecond, 5e6}
	ws = slow.rounds(f, 30, &now, &delivered)
	low := ws[len(ws)-2]
	if high <= 10 || low >= high || low > 4+1 {
		t.Errorf("window %d on the fast link, %d once it slowed to a twentieth; want it back near the floor 4", high, low)
	}
}
