package outboard

import (
	"strings"
	"testing"

	"github.com/rtp-project/rtp/internal/cpuoff"
)

// TestFallbacks runs this package's tests again without AVX-512, where
// Check, NewTree and the Encoder hash 16 groups at once with the AVX2 code
// of b3avx2_amd64.s instead of b3_amd64.s's; then without AVX2 either,
// where they go through lukechampine.com/blake3's generic code one group at
// a time (package urn makes it follow GODEBUG). make test-cpu also builds
// them with -tags purego.
func TestFallbacks(t *testing.T) {
	cpuoff.Rerun(t, "cpu.avx512f=off", "cpu.avx512f=off,cpu.avx2=off")
}

// TestFallbackTaken: in the rerun, the AVX-512 path is really off, and the
// AVX2 one too when GODEBUG says so.
func TestFallbackTaken(t *testing.T) {
	if cpuoff.Off() == "" {
		t.Skip("only in the rerun with GODEBUG")
	}
	off := cpuoff.Off()
	if haveGroups16 {
		t.Errorf("GODEBUG=%s, yet the AVX-512 group hashing is on", off)
	}
	if strings.Contains(off, "avx2=off") && haveGroups8 {
		t.Errorf("GODEBUG=%s, yet the AVX2 group hashing is on", off)
	}
}
