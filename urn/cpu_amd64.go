//go:build amd64 && !purego

package urn

import (
	_ "unsafe" // go:linkname

	"golang.org/x/sys/cpu"
	_ "lukechampine.com/blake3/guts" // initialised first: its flags are set when this init runs
)

// lukechampine.com/blake3 reads the CPU through klauspost/cpuid, which does
// not know GODEBUG; these are its flags, so that GODEBUG=cpu.avx512f=off or
// cpu.avx2=off, which golang.org/x/sys/cpu honours, switches its SIMD code
// off too, as it does crypto/sha256's and outboard's: one setting for the
// whole program (to keep a CPU out of AVX-512, or to test the other paths).
//
//go:linkname gutsAVX512 lukechampine.com/blake3/guts.haveAVX512
var gutsAVX512 bool

//go:linkname gutsAVX2 lukechampine.com/blake3/guts.haveAVX2
var gutsAVX2 bool

func init() {
	gutsAVX512 = gutsAVX512 && cpu.X86.HasAVX512F
	gutsAVX2 = gutsAVX2 && cpu.X86.HasAVX2
}
