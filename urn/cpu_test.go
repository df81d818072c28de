package urn

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/rtp-project/rtp/internal/cpuoff"
)

// TestFallbacks runs this package's tests again without SHA-NI and
// AVX-512, then without AVX2 as well: crypto/sha256's and
// lukechampine.com/blake3's other code paths.
func TestFallbacks(t *testing.T) {
	cpuoff.Rerun(t, "cpu.sha=off,cpu.avx512f=off", "cpu.sha=off,cpu.avx512f=off,cpu.avx2=off")
}

// TestKnownAnswers checks HashReader against published digests, so that a
// fallback path is held to the standard and not to crypto/sha256, which
// takes the same path in the same process.
func TestKnownAnswers(t *testing.T) {
	million := strings.Repeat("a", 1000000) // FIPS 180-2's long message: pipelined
	for _, c := range []struct {
		in     string
		sha256 string
		blake3 string
	}{
		{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"},
		{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"},
		{million, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", ""},
	} {
		s, err := HashReader(strings.NewReader(c.in), nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.sha256 != "" && hex.EncodeToString(s.SHA256[:]) != c.sha256 {
			t.Errorf("sha256 of %d bytes: %x, want %s", len(c.in), s.SHA256, c.sha256)
		}
		if c.blake3 != "" && hex.EncodeToString(s.BLAKE3[:]) != c.blake3 {
			t.Errorf("blake3 of %d bytes: %x, want %s", len(c.in), s.BLAKE3, c.blake3)
		}
	}
}
