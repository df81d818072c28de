// Package testload is the switch that stands for a faster machine in tests.
//
// With RTP_TEST_FAST_HASH=1 in the environment, every test that sizes its
// files through Bytes hashes a tenth of the bytes, so an index pass, a
// download or a stream of READs ends ten times sooner, as it would on a
// CPU that hashes ten times faster (SHA-NI, AVX-512). A test that orders
// events by sleeping, not by what happened, breaks under it; the tests
// must pass with and without it:
//
//	RTP_TEST_FAST_HASH=1 go test ./cmd/rtpd ./server ./swarm
package testload

import "os"

// Env is the variable that turns the switch on.
const Env = "RTP_TEST_FAST_HASH"

// Fast reports whether the switch is on.
func Fast() bool { v := os.Getenv(Env); return v != "" && v != "0" }

// Count returns n, or n/10 (at least 1) when the switch is on: for a
// number of files, whose cost is per file (open, stat, index commit).
func Count(n int) int { return Bytes(n) }

// Bytes returns n, or n/10 (at least 1) when the switch is on.
func Bytes(n int) int {
	if Fast() {
		return max(n/10, 1)
	}
	return n
}
