package server

import (
	"sync"
	"time"
)

// tcpSample is what a TCP connection's TCP_INFO says at one moment.
type tcpSample struct {
	retrans uint32 // segments sent again so far (tcpi_total_retrans)
	rtt     uint32 // smoothed round trip, µs
	minRTT  uint32 // least round trip seen, µs
	rtos    uint32 // retransmission timeouts so far (tcpi_total_rto)
}

// randomLosses is how many samples must show loss with no queue near full
// before a connection is taken to have random loss. Each costs time: cubic
// at 300 ms and 0.5% loss keeps some 50-100 segments in flight, so a round
// trip sees a loss only every second or third time, and traced
// connections saw their second loss 2-3 s after their first. A loss taken
// for random that was not moves the connection to bbr, which is what
// `auto` uses anyway.
const randomLosses = 1

// lossLookback is how many samples, taken about a round trip apart, a loss
// looks back for a full queue: the one that shows the segments sent again,
// and the two before it, when the queue may have overflowed and drained.
const lossLookback = 3

// lossWindow tells random loss from a queue that overflows, one sample at a
// time, about one a round trip. A queue is near full when the smoothed
// round trip is at least halfway from the least one seen to the largest,
// and above the least by more than 2 ms and an eighth of it: at 300 ms a
// few milliseconds of queue (slow start, the emulator's own scheduling)
// rise halfway to the largest seen early in a connection, and were taken
// for a full queue, hiding the random losses that came with them. A
// loss-based algorithm fills the
// queue before every loss it causes, so a loss with no queue near full in
// its sample or the two before is random. A retransmission timeout counts
// as a full queue for as long: it empties the queue, and the segments sent
// again after it come in round trips with no queue.
type lossWindow struct {
	prev   tcpSample // the last sample, when n > 0
	maxRTT uint32
	full   [lossLookback]bool // the last samples' queue near full, newest at n%lossLookback
	n      int
	random int
}

// add takes the next sample and reports whether random loss is now shown.
func (w *lossWindow) add(s tcpSample) bool {
	w.maxRTT = max(w.maxRTT, s.rtt)
	mid := s.minRTT + (w.maxRTT-min(s.minRTT, w.maxRTT))/2
	w.full[w.n%lossLookback] = s.rtt > s.minRTT+max(2000, s.minRTT/8) && s.rtt >= mid || s.rtos > w.prev.rtos
	w.n++
	if w.n > 1 && s.retrans > w.prev.retrans && s.minRTT > 0 {
		full := false
		for _, f := range w.full[:min(w.n, lossLookback)] {
			full = full || f
		}
		if !full {
			w.random++
		}
	}
	w.prev = s
	return w.random >= randomLosses
}

// lossyHosts remembers the hosts (addresses, as hostOf gives them) whose
// connections showed random loss, so that their next connections start on
// the algorithm for it instead of losing their first seconds on cubic to
// find out again: rtpget opens more sessions as a download goes on, and
// comes back for the next file.
type lossyHosts struct {
	mu    sync.Mutex
	until map[string]time.Time
}

// lossyMemory is how long a host stays known as lossy after one of its
// connections showed it, and maxLossyHosts how many are kept at once.
const (
	lossyMemory   = 10 * time.Minute
	maxLossyHosts = 4096
)

// mark notes that host showed random loss at now.
func (h *lossyHosts) mark(host string, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.until == nil {
		h.until = make(map[string]time.Time)
	}
	if _, ok := h.until[host]; !ok && len(h.until) >= maxLossyHosts {
		for a, t := range h.until {
			if now.After(t) {
				delete(h.until, a)
			}
		}
		for a := range h.until {
			if len(h.until) < maxLossyHosts {
				break
			}
			delete(h.until, a)
		}
	}
	h.until[host] = now.Add(lossyMemory)
}

// lossy reports whether host showed random loss within lossyMemory of now.
func (h *lossyHosts) lossy(host string, now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	t, ok := h.until[host]
	if ok && now.After(t) {
		delete(h.until, host)
		return false
	}
	return ok
}
