package outboard

import (
	"testing"

	"github.com/rtp-project/rtp/internal/cpuoff"
)

// TestFallbacks runs this package's tests again without AVX-512, where
// Check, NewTree and the Encoder hash groups through lukechampine.com/blake3
// one at a time instead of 16 at once in b3_amd64.s, and that with its AVX2
// code; then without AVX2 either, with its generic code (package urn makes
// it follow GODEBUG). make test-cpu also builds them with -tags purego.
func TestFallbacks(t *testing.T) {
	cpuoff.Rerun(t, "cpu.avx512f=off", "cpu.avx512f=off,cpu.avx2=off")
}

// TestFallbackTaken: in the rerun, the AVX-512 path is really off.
func TestFallbackTaken(t *testing.T) {
	if cpuoff.Off() == "" {
		t.Skip("only in the rerun with GODEBUG")
	}
	if haveGroups16 {
		t.Errorf("GODEBUG=%s, yet the AVX-512 group hashing is on", cpuoff.Off())
	}
}
