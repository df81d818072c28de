//go:build amd64 && !purego

package urn

import (
	"strings"
	"testing"

	"github.com/rtp-project/rtp/internal/cpuoff"
)

// TestFallbackTaken: in the rerun, lukechampine.com/blake3's SIMD code is
// off as GODEBUG says (crypto/sha256's follows internal/cpu; the rerun
// fails if the runtime does not know a setting).
func TestFallbackTaken(t *testing.T) {
	off := cpuoff.Off()
	if off == "" {
		t.Skip("only in the rerun with GODEBUG")
	}
	if gutsAVX512 && strings.Contains(off, "avx512f=off") {
		t.Errorf("GODEBUG=%s, yet lukechampine.com/blake3's AVX-512 code is on", off)
	}
	if gutsAVX2 && strings.Contains(off, "avx2=off") {
		t.Errorf("GODEBUG=%s, yet lukechampine.com/blake3's AVX2 code is on", off)
	}
}
