package wan

import (
	"encoding/binary"
	"math"
	"net"
	"sync"
	"testing"
	"time"
)

// sink records the sequence numbers a UDP socket receives, in order.
type sink struct {
	mu   sync.Mutex
	seqs []uint64
}

func newSink(s *net.UDPConn) *sink {
	k := &sink{}
	go func() {
		buf := make([]byte, 64)
		for {
			n, err := s.Read(buf)
			if err != nil {
				return
			}
			if n == 8 {
				k.mu.Lock()
				k.seqs = append(k.seqs, binary.BigEndian.Uint64(buf))
				k.mu.Unlock()
			}
		}
	}()
	return k
}

func (k *sink) len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.seqs)
}

// blast sends n datagrams numbered from first from c, 100 at a time: after
// each hundred it waits until the link has read them all and the sink has
// received every one the link forwarded, so nothing is lost on the way but
// by the link, whose loss then equals the datagrams missing at the sink.
func blast(t *testing.T, l *Link, c *net.UDPConn, k *sink, first, n int) {
	t.Helper()
	// Count from a link with nothing in it: a packet read before and
	// delivered after would count as forwarded but not read (seen in CI,
	// under -race, after TestJitter's probes).
	base := l.Stats().AtoB
	for deadline := time.Now().Add(5 * time.Second); base.InFlight > 0 ||
		base.Received != base.Packets+base.LossDrops+base.QueueDrops+base.WriteErrors; base = l.Stats().AtoB {
		if time.Now().After(deadline) {
			t.Fatalf("the link did not settle before the blast: %+v", base)
		}
		time.Sleep(time.Millisecond)
	}
	got0 := k.len()
	for sent := 0; sent < n; {
		for i := 0; i < 100 && sent < n; i++ {
			var b [8]byte
			binary.BigEndian.PutUint64(b[:], uint64(first+sent))
			if _, err := c.Write(b[:]); err != nil {
				t.Fatal(err)
			}
			sent++
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			s := l.Stats().AtoB
			done := s.Received-base.Received == int64(sent) && s.InFlight == 0 &&
				int64(k.len()-got0) == s.Packets-base.Packets
			if done {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after %d datagrams: link read %d, forwarded %d, sink got %d", sent, s.Received-base.Received, s.Packets-base.Packets, k.len()-got0)
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// binomialBounds returns lo and hi such that a Binomial(n, p) count falls
// below lo or above hi with probability below alpha/2 each.
func binomialBounds(n int, p, alpha float64) (lo, hi int) {
	pmf := func(k int) float64 {
		a, _ := math.Lgamma(float64(n + 1))
		b, _ := math.Lgamma(float64(k + 1))
		c, _ := math.Lgamma(float64(n - k + 1))
		return math.Exp(a - b - c + float64(k)*math.Log(p) + float64(n-k)*math.Log1p(-p))
	}
	for cum := 0.0; cum+pmf(lo) < alpha/2; lo++ {
		cum += pmf(lo)
	}
	hi = n
	for cum := 0.0; cum+pmf(hi) < alpha/2; hi-- {
		cum += pmf(hi)
	}
	return lo, hi
}

// TestLoss: 5000 datagrams through a link losing 2% from A to B: the
// number lost, counted at the receiver, is within the bounds a
// Binomial(5000, 0.02) count leaves with probability below 1e-6, and the
// link's own count of loss drops agrees. Nothing is lost from B to A.
func TestLoss(t *testing.T) {
	needRoot(t)
	l, a, b := start(t, Dir{Loss: 0.02}, Dir{})
	c, s := udpPair(t, a, b, false)
	k := newSink(s)
	const n = 5000
	blast(t, l, c, k, 0, n)
	lost := n - k.len()
	lo, hi := binomialBounds(n, 0.02, 1e-6)
	t.Logf("lost %d of %d, bounds [%d, %d]; %+v", lost, n, lo, hi, l.Stats().AtoB)
	if lost < lo || lost > hi {
		t.Errorf("lost %d of %d at 2%%, outside [%d, %d]", lost, n, lo, hi)
	}
	if st := l.Stats().AtoB; st.LossDrops != int64(lost) {
		t.Errorf("link counted %d loss drops, the receiver missed %d", st.LossDrops, lost)
	}
}

// TestBurstLoss: Gilbert-Elliott with P 0.01, R 0.25, all lost in the bad
// state and none in the good one loses runs of 1/R = 4 datagrams on
// average (random loss at the same 3.8% would give runs of 1.04). The mean
// run length must be within 5 standard errors of 4 (a run's length is
// geometric with standard deviation sqrt(1-R)/R), a chance failure below
// 1e-6.
func TestBurstLoss(t *testing.T) {
	needRoot(t)
	const P, R = 0.01, 0.25
	l, a, b := start(t, Dir{GE: &GilbertElliott{P: P, R: R, LossBad: 1}}, Dir{})
	c, s := udpPair(t, a, b, false)
	k := newSink(s)
	const n = 20000
	blast(t, l, c, k, 0, n)
	got := make([]bool, n)
	k.mu.Lock()
	for _, q := range k.seqs {
		got[q] = true
	}
	k.mu.Unlock()
	var runs, lost int
	for i := range got {
		if !got[i] {
			lost++
			if i == 0 || got[i-1] {
				runs++
			}
		}
	}
	if runs < 50 {
		t.Fatalf("only %d loss runs in %d datagrams (%d lost); expected about %.0f", runs, n, lost, n*P*R/(P+R))
	}
	mean := float64(lost) / float64(runs)
	tol := 5 * math.Sqrt(1-R) / R / math.Sqrt(float64(runs))
	t.Logf("%d lost in %d runs, mean run %.2f (want %.2f ± %.2f)", lost, runs, mean, 1/R, tol)
	if math.Abs(mean-1/R) > tol {
		t.Errorf("mean loss run %.2f, want %.2f ± %.2f", mean, 1/R, tol)
	}
}

// TestBlackout: Set with Loss 1 both ways lets nothing through; Set back
// to a clean link and probes come back again.
func TestBlackout(t *testing.T) {
	needRoot(t)
	l, a, b := start(t, Dir{}, Dir{})
	c, s := udpPair(t, a, b, false)
	k := newSink(s)
	blast(t, l, c, k, 0, 100)
	if k.len() != 100 {
		t.Fatalf("clean link delivered %d of 100", k.len())
	}
	l.Set(Dir{Loss: 1}, Dir{Loss: 1})
	blast(t, l, c, k, 100, 500)
	if k.len() != 100 {
		t.Errorf("blacked-out link delivered %d datagrams", k.len()-100)
	}
	if d := l.Stats().AtoB.LossDrops; d != 500 {
		t.Errorf("blacked-out link counted %d loss drops, want 500", d)
	}
	l.Set(Dir{}, Dir{})
	blast(t, l, c, k, 600, 100)
	if k.len() != 200 {
		t.Errorf("link delivered %d of 100 after the blackout", k.len()-100)
	}
	pc, _ := udpPair(t, a, b, true)
	pings(t, pc, 3) // both ways
}

// TestJitter: 20 ms ± 5 ms from A to B and no delay back. No probe comes
// back before 15 ms, at least 3 of 100 come back below 19 ms and 5 above
// 22 ms. Under a uniform jitter each is 40% and 30% likely per probe; the
// emulator's lateness (README.md) moves probes up, but even a 2 ms shift
// leaves 20%, and fewer than 3 of 100 then has probability below 1e-6. A burst of 2000 datagrams through
// the same link arrives in order.
func TestJitter(t *testing.T) {
	needRoot(t)
	l, a, b := start(t, Dir{Delay: 20 * time.Millisecond, Jitter: 5 * time.Millisecond}, Dir{})
	pc, _ := udpPair(t, a, b, true)
	rtts := pings(t, pc, 100)
	var low, high int
	for _, r := range rtts {
		if r < 15*time.Millisecond-50*time.Microsecond {
			t.Errorf("a probe came back after %v, before the 15 ms minimum", r)
		}
		if r < 19*time.Millisecond {
			low++
		}
		if r > 22*time.Millisecond {
			high++
		}
	}
	t.Logf("%d of 100 below 19 ms, %d above 22 ms", low, high)
	if low < 3 || high < 5 {
		t.Errorf("jitter too narrow: %d of 100 below 19 ms, %d above 22 ms", low, high)
	}
	c, s := udpPair(t, a, b, false)
	k := newSink(s)
	blast(t, l, c, k, 0, 2000)
	k.mu.Lock()
	defer k.mu.Unlock()
	for i := 1; i < len(k.seqs); i++ {
		if k.seqs[i] < k.seqs[i-1] {
			t.Fatalf("datagram %d arrived after %d: reordered", k.seqs[i], k.seqs[i-1])
		}
	}
}
