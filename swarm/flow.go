package swarm

import (
	"math"
	"time"
)

// flow sets how many READs one session keeps in flight from what it
// measures: the delivery rate in rounds of at least one round trip, and
// the round trip itself, from a READ's send to its first byte. It starts at the
// floor and doubles the window each round that the rate grew by a quarter,
// until it has not for three rounds or the window holds twice the
// bandwidth-delay product; then it holds the window at twice the
// bandwidth-delay product (the best rate of the last rounds times the
// shortest round trip), which follows the rate down when it falls, with a
// round of a quarter more every probeEvery rounds to find a rate that grew.
// The window never goes below the floor nor above the ceiling. A flow is
// used by its session's goroutine only; snapshots go to the peer.
type flow struct {
	bsize       int64
	floor, ceil int

	window  int
	startup bool
	// fullRate is the best round rate in startup; stale counts the rounds
	// since it last grew by a quarter.
	fullRate float64
	stale    int

	minRTT time.Duration // 0 until the first sample

	seq        uint64    // READs sent
	roundStart time.Time // when the round began
	roundBytes int64     // bytes delivered when it began
	roundEnd   uint64    // the round ends when a READ with this seq or later completes
	limited    bool      // the session could not fill its window this round
	rounds     int
	rates      [maxRateRounds]float64 // rate of the last rounds, by round number
	rate       float64                // the best of rates
	last       float64                // the last round's rate
}

const (
	maxRateRounds = 10 // rounds the best rate is kept for
	probeEvery    = 8  // rounds between probes in steady state
	startupRounds = 3  // rounds without growth that end startup
	startupGrowth = 1.25
)

func newFlow(floor, ceil int, bsize int64, now time.Time) *flow {
	ceil = max(ceil, floor)
	return &flow{bsize: bsize, floor: floor, ceil: ceil, window: floor, startup: true, roundStart: now, roundEnd: 1}
}

// sent numbers a READ about to be sent.
func (f *flow) sent() uint64 {
	f.seq++
	return f.seq
}

// short notes that the session had fewer READs in flight than its window
// (nothing to fetch, or the download's cap): this round's rate says
// nothing about what a bigger window would bring.
func (f *flow) short() { f.limited = true }

// done takes a finished READ: seq from sent, its send time and its first
// byte's time (zero if none came), and the session's delivered bytes now.
// It returns true when a round ended and the window may have changed.
func (f *flow) done(seq uint64, sentAt, first time.Time, delivered int64, now time.Time) bool {
	if !first.IsZero() {
		if rtt := first.Sub(sentAt); rtt > 0 && (f.minRTT == 0 || rtt < f.minRTT) {
			f.minRTT = rtt
		}
	}
	elapsed := now.Sub(f.roundStart)
	// A round lasts at least a round trip: a burst of READs completing at
	// once (TCP handing over what it held behind a lost segment) would
	// otherwise read as a rate the path never had.
	if seq < f.roundEnd || elapsed < f.minRTT {
		return false
	}
	rate := 0.0
	if elapsed > 0 {
		rate = float64(delivered-f.roundBytes) / elapsed.Seconds()
	}
	limited := f.limited
	f.roundStart, f.roundBytes, f.roundEnd, f.limited = now, delivered, f.seq+1, false
	f.rounds++
	f.last = rate
	if limited && rate < f.rate {
		// A short round only counts if it shows more than the others.
		rate = 0
	}
	f.rates[f.rounds%maxRateRounds] = rate
	f.rate = 0
	for _, r := range f.rates {
		f.rate = max(f.rate, r)
	}
	if f.startup {
		grew := rate >= f.fullRate*startupGrowth
		switch {
		case grew:
			f.fullRate, f.stale = rate, 0
		case !limited:
			f.stale++
		}
		// It ends when the rate stopped growing, or at once when the
		// window already holds twice what the path carries in a round
		// trip: the path, not the window, limits it.
		if f.stale >= startupRounds || f.window >= f.bdpWindow(2) {
			f.startup = false
		} else if grew && !limited {
			f.window = min(f.window*2, f.ceil)
			return true
		}
	}
	if !f.startup {
		w := f.bdpWindow(2)
		if f.rounds%probeEvery == 0 {
			w = max(w+1, w*5/4)
		}
		f.window = min(max(w, f.floor), f.ceil)
	}
	return true
}

// bdpWindow is gain times the bandwidth-delay product in READs, plus the
// one being received.
func (f *flow) bdpWindow(gain float64) int {
	bdp := f.rate * f.minRTT.Seconds() * gain / float64(f.bsize)
	if math.IsNaN(bdp) || bdp > float64(f.ceil) {
		return f.ceil
	}
	return int(math.Ceil(bdp)) + 1
}
