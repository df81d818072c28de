package server

import "testing"

func TestStartupCap(t *testing.T) {
	const (
		startup  = 739 // bbr's start-up gain, 2.89 in 1/256
		probeBW  = 320 // a ProbeBW cycle's first gain, 1.25
		cwndBW   = 512 // ProbeBW's window gain, 2
		probeRTT = 256
	)
	type sample struct {
		gain, cwnd uint32
		bw         uint64
		want       uint64 // the cap set, noPacingCap, or 0 for no change
	}
	for _, c := range []struct {
		name    string
		samples []sample
	}{
		{"start-up that ends by itself is never capped", []sample{
			{startup, startup, 1000, 0}, {startup, startup, 2000, 0}, {startup, startup, 4000, 0},
			{startup, startup, 4100, 0}, {startup, startup, 4200, 0},
			{88, startup, 4200, 0}, // drain
			{probeBW, cwndBW, 4200, 0}, {256, cwndBW, 4300, 0},
		}},
		{"stuck in start-up: capped, the cap follows the estimate up, kept through the round-trip probe, lifted after", []sample{
			{startup, startup, 1000, 0}, {startup, startup, 2000, 0},
			{startup, startup, 2100, 0}, {startup, startup, 2200, 0},
			{startup, startup, 2000, 2500}, // third sample without a quarter more: 1.25 x 2000
			{startup, startup, 2000, 0},    // no change
			{startup, startup, 2400, 3000}, // follows the estimate
			{probeRTT, probeRTT, 2400, 0},  // the round-trip probe keeps it
			{startup, startup, 2400, 0},    // back in start-up after the probe
			{88, startup, 2400, noPacingCap},
			{probeBW, cwndBW, 2400, 0},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var s startupCap
			for i, x := range c.samples {
				got, changed := s.add(x.gain, x.cwnd, x.bw)
				if !changed {
					got = 0
				}
				if got != x.want {
					t.Fatalf("sample %d (gain %d, window gain %d, bw %d): cap %d, want %d", i, x.gain, x.cwnd, x.bw, got, x.want)
				}
			}
		})
	}
}
