//go:build amd64 && !purego

package outboard

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

//go:generate go run asm_gen.go
//go:generate go run asm_gen_avx2.go

// chunks16 compresses the 16 whole chunks of data, chunk l with counter
// ctr[0][l] | ctr[1][l]<<32, and stores chunk l's chaining value at out[l].
//
//go:noescape
func chunks16(out *[16][8]uint32, data *[GroupSize]byte, ctr *[2][16]uint32)

// parents16 compresses the 16 parent nodes whose children's chaining
// values are msgs[l] (left then right), likewise. It reads all of msgs
// before it stores anything, so out may overlap it.
//
//go:noescape
func parents16(out *[16][8]uint32, msgs *[16][16]uint32, zero *[2][16]uint32)

// chunks16avx2 and parents16avx2 are chunks16 and parents16 in AVX2, 8
// lanes at a time (b3avx2_amd64.s).
//
//go:noescape
func chunks16avx2(out *[16][8]uint32, data *[GroupSize]byte, ctr *[2][16]uint32)

//go:noescape
func parents16avx2(out *[16][8]uint32, msgs *[16][16]uint32, zero *[2][16]uint32)

var (
	haveGroups16 = cpu.X86.HasAVX512F
	haveGroups8  = cpu.X86.HasAVX2
)

// chunks and parents call the AVX-512 functions, else the AVX2 ones.
// (Direct calls, not function values: their arguments stay on the stack.)
func chunks(out *[16][8]uint32, data *[GroupSize]byte, ctr *[2][16]uint32) {
	if haveGroups16 {
		chunks16(out, data, ctr)
	} else {
		chunks16avx2(out, data, ctr)
	}
}

func parents(out *[16][8]uint32, msgs *[16][16]uint32, zero *[2][16]uint32) {
	if haveGroups16 {
		parents16(out, msgs, zero)
	} else {
		parents16avx2(out, msgs, zero)
	}
}

// groupCVs sets cvs[i] to the chaining value of group first+i, whose 16
// KiB are at p[i*GroupSize:]. No group may be the root (the resource has
// more than one group). With AVX-512 or AVX2 it hashes 16 groups at a time.
func groupCVs(p []byte, first int64, cvs [][8]uint32) {
	if !haveGroups16 && !haveGroups8 {
		groupCVsGeneric(p, first, cvs)
		return
	}
	for len(cvs) > 0 {
		n := min(len(cvs), groupBatch)
		groupBatchCVs(p[:n*GroupSize], first, cvs[:n])
		p, first, cvs = p[n*GroupSize:], first+int64(n), cvs[n:]
	}
}

// parentCVs sets out[l], for l < n, to the chaining value of the non-root
// parent whose children's chaining values are msgs[l] (left then right).
func parentCVs(out *[16][8]uint32, msgs *[16][16]uint32, n int) {
	if !haveGroups16 && !haveGroups8 {
		parentCVsGeneric(out, msgs, n)
		return
	}
	var zero [2][16]uint32
	parents(out, msgs, &zero)
}

func groupBatchCVs(p []byte, first int64, cvs [][8]uint32) {
	// Room for 16 more than the chunks: a last, partial batch of parents
	// stores all 16 lanes.
	var level [groupBatch<<GroupLog + 16][8]uint32
	var ctr [2][16]uint32
	n := len(cvs)
	for g := range n {
		base := uint64(first+int64(g)) << GroupLog
		for l := range 16 {
			ctr[0][l], ctr[1][l] = uint32(base+uint64(l)), uint32((base+uint64(l))>>32)
		}
		chunks((*[16][8]uint32)(level[g<<GroupLog:]), (*[GroupSize]byte)(p[g*GroupSize:]), &ctr)
	}
	// Each level halves the nodes: pairs (2j, 2j+1) are siblings, so the
	// parents of the group's 16 chunks come out in order, 4 levels down,
	// each batch stored over the first half of the pairs it has read.
	var zero [2][16]uint32
	var pad [16][16]uint32
	for m := n << GroupLog; m > n; m /= 2 {
		for j := 0; j < m/2; j += 16 {
			msgs := (*[16][16]uint32)(unsafe.Pointer(&level[2*j]))
			if k := m/2 - j; k < 16 {
				for l := range k {
					copy(pad[l][:8], level[2*(j+l)][:])
					copy(pad[l][8:], level[2*(j+l)+1][:])
				}
				msgs = &pad
			}
			parents((*[16][8]uint32)(level[j:]), msgs, &zero)
		}
	}
	copy(cvs, level[:n])
}
