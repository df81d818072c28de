package server

// startupCap finds a bbr connection that its start-up will not leave, and
// gives the pacing cap that ends the harm of it.
//
// Linux's bbr (v1) starts a connection pacing at 2.89 times the bandwidth
// it has measured, and leaves start-up only after three round trips whose
// deliveries, not limited by the application, did not grow by a quarter.
// A connection that always has fewer bytes to send than its window (an
// rtpget session, whose READs in flight follow its share of the path)
// never has such a round trip, so it paces at 2.89 times its share for
// good: every READ that arrives leaves in a burst nearly three times the
// link's rate. Through a router queue shorter than the bandwidth-delay
// product those bursts overflow it. Traced at 300 ms, 200 Mbit/s and a
// 100 ms queue (`ss -ti`): with one session held to 9 MiB in flight (1.26
// bandwidth-delay products, under what path and queue hold) bbr paced at
// 560 Mbit/s against a delivery rate of 195, and the queue dropped 1,000 to
// 3,300 packets a second for the last 35 s of the download; with rtpget's
// default sessions, 100,000-170,000 packets of a 716 MiB file.
//
// So a connection still in start-up whose bandwidth estimate has not grown
// by a quarter for startupRounds samples (taken a round trip apart) is
// capped at startupCapGain times that estimate, the most bbr sends at when
// it probes for more after start-up; the cap follows the estimate up, so
// the connection may still find more bandwidth, a quarter per round trip,
// and it is lifted once bbr leaves start-up by itself.
type startupCap struct {
	fullBw uint64 // the largest estimate that grew by a quarter
	stale  int    // samples since
	capped uint64 // the cap set, bytes/s; 0 none
}

const (
	// bbrStartupGain is the least pacing gain (in 1/256) that bbr uses
	// only in start-up: 2.89 there, at most 1.25 in the other phases.
	bbrStartupGain = 2 * 256
	// bbrProbeRTTGain is the window gain of bbr's round-trip probe, the
	// only phase whose window gain is 1.
	bbrProbeRTTGain = 256
	startupRounds   = 3
	startupCapGain  = 1.25
	// noPacingCap lifts SO_MAX_PACING_RATE.
	noPacingCap = ^uint64(0)
)

// add takes one sample, about a round trip after the last: bbr's pacing
// and window gains in 1/256 and its bandwidth estimate in bytes/s. It
// returns the cap to set, if it changed: bytes/s, or noPacingCap to lift it.
func (s *startupCap) add(gain, cwndGain uint32, bw uint64) (uint64, bool) {
	if cwndGain == bbrProbeRTTGain {
		// Probing the round trip (every 10 s without a shorter one),
		// which a connection that never left start-up ends by going
		// back to it: the cap stays. (Lifted there, each return to
		// start-up overfilled the queue again until it was set anew.)
		return 0, false
	}
	if gain < bbrStartupGain {
		if s.capped != 0 {
			s.capped = 0
			return noPacingCap, true
		}
		return 0, false
	}
	if bw >= s.fullBw+s.fullBw/4 && s.stale < startupRounds {
		s.fullBw, s.stale = bw, 0
		return 0, false
	}
	s.stale++
	if s.stale < startupRounds || bw == 0 {
		return 0, false
	}
	c := uint64(float64(bw) * startupCapGain)
	if c == s.capped {
		return 0, false
	}
	s.capped = c
	return c, true
}
