//go:build ignore

// asm_gen writes b3_amd64.s: BLAKE3 compression of 16 chunks, or of 16
// parents, at once with AVX-512, for checking whole groups.
//
//	go generate ./outboard
//
// Each of the 16 lanes of a ZMM register holds one word of one chunk's (or
// parent's) state. lukechampine.com/blake3 loads message words with 16
// gathers per block; here the 16 message rows are loaded whole and
// transposed with unpacks and 128-bit shuffles, which on this project's
// machines hashes a group in about two thirds of the time.
package main

import (
	"bytes"
	"fmt"
	"os"
)

var iv = [8]uint32{0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19}

// msgPerm is BLAKE3's message permutation between rounds.
var msgPerm = [16]int{2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8}

const (
	flagChunkStart = 1
	flagChunkEnd   = 2
	flagParent     = 4
)

var out bytes.Buffer

func p(format string, args ...any) { fmt.Fprintf(&out, "\t"+format+"\n", args...) }

func z(i int) string { return fmt.Sprintf("Z%d", i) }

// loadTransposed loads 16 message rows, row l at (DX) + l*stride, and
// stores them transposed at 0(SP)..1023(SP): word w of every lane at
// w*64(SP). It uses Z8-Z31 (v8-v15 are set afresh after it).
func loadTransposed(stride int) {
	for l := 0; l < 16; l++ {
		p("VMOVDQU32 %d(DX), %s", l*stride, z(16+l))
	}
	// 32-bit interleave of row pairs: lo(r, r+1) and hi(r, r+1).
	lo := [8]int{8, 9, 10, 11, 12, 13, 14, 15}
	hi := [8]int{}
	for k := 0; k < 8; k++ {
		a, b := 16+2*k, 17+2*k
		p("VPUNPCKLDQ %s, %s, %s", z(b), z(a), z(lo[k]))
		p("VPUNPCKHDQ %s, %s, %s", z(b), z(a), z(b))
		hi[k] = b
	}
	// 64-bit interleave: for rows 4g..4g+3, x[g][c] holds in 128-bit lane k
	// word 4k+c of the four rows.
	free := []int{16, 18, 20, 22, 24, 26, 28, 30}
	take := func() int { r := free[0]; free = free[1:]; return r }
	var x [4][4]int
	for g := 0; g < 4; g++ {
		l0, l1, h0, h1 := lo[2*g], lo[2*g+1], hi[2*g], hi[2*g+1]
		x[g][0], x[g][1] = take(), take()
		p("VPUNPCKLQDQ %s, %s, %s", z(l1), z(l0), z(x[g][0]))
		p("VPUNPCKHQDQ %s, %s, %s", z(l1), z(l0), z(x[g][1]))
		x[g][2], x[g][3] = l0, l1
		p("VPUNPCKLQDQ %s, %s, %s", z(h1), z(h0), z(x[g][2]))
		p("VPUNPCKHQDQ %s, %s, %s", z(h1), z(h0), z(x[g][3]))
		free = append(free, h0, h1)
	}
	// 4x4 transpose of 128-bit lanes: word 4k+c of row 4g+j goes to lane
	// 4g+j of word 4k+c.
	for c := 0; c < 4; c++ {
		t := [4]int{take(), take(), take(), take()}
		p("VSHUFI32X4 $0x44, %s, %s, %s", z(x[1][c]), z(x[0][c]), z(t[0]))
		p("VSHUFI32X4 $0xEE, %s, %s, %s", z(x[1][c]), z(x[0][c]), z(t[1]))
		p("VSHUFI32X4 $0x44, %s, %s, %s", z(x[3][c]), z(x[2][c]), z(t[2]))
		p("VSHUFI32X4 $0xEE, %s, %s, %s", z(x[3][c]), z(x[2][c]), z(t[3]))
		free = append(free, x[0][c], x[1][c], x[2][c], x[3][c])
		w := [4]int{take(), take(), take(), take()}
		p("VSHUFI32X4 $0x88, %s, %s, %s", z(t[2]), z(t[0]), z(w[0]))
		p("VSHUFI32X4 $0xDD, %s, %s, %s", z(t[2]), z(t[0]), z(w[1]))
		p("VSHUFI32X4 $0x88, %s, %s, %s", z(t[3]), z(t[1]), z(w[2]))
		p("VSHUFI32X4 $0xDD, %s, %s, %s", z(t[3]), z(t[1]), z(w[3]))
		for k := 0; k < 4; k++ {
			p("VMOVDQU32 %s, %d(SP)", z(w[k]), (4*k+c)*64)
		}
		free = append(free, t[0], t[1], t[2], t[3], w[0], w[1], w[2], w[3])
	}
}

// rounds runs BLAKE3's seven rounds on v0-v15 (Z0-Z15), the message words
// at w*64(SP).
func rounds() {
	var s [16]int
	for i := range s {
		s[i] = i
	}
	for r := 0; r < 7; r++ {
		half(s, [4][4]int{{0, 4, 8, 12}, {1, 5, 9, 13}, {2, 6, 10, 14}, {3, 7, 11, 15}}, 0)
		half(s, [4][4]int{{0, 5, 10, 15}, {1, 6, 11, 12}, {2, 7, 8, 13}, {3, 4, 9, 14}}, 8)
		var next [16]int
		for i := range next {
			next[i] = s[msgPerm[i]]
		}
		s = next
	}
}

// half is four G functions, interleaved step by step; G i takes message
// words s[m+2i] and s[m+2i+1].
func half(s [16]int, g [4][4]int, m int) {
	step := func(f func(i, a, b, c, d int)) {
		for i, v := range g {
			f(i, v[0], v[1], v[2], v[3])
		}
	}
	for k := 0; k < 2; k++ {
		rd, rb := 16, 12
		if k == 1 {
			rd, rb = 8, 7
		}
		step(func(i, a, b, c, d int) { p("VPADDD %s, %s, %s", z(b), z(a), z(a)) })
		step(func(i, a, b, c, d int) { p("VPADDD %d(SP), %s, %s", s[m+2*i+k]*64, z(a), z(a)) })
		step(func(i, a, b, c, d int) { p("VPXORD %s, %s, %s", z(a), z(d), z(d)) })
		step(func(i, a, b, c, d int) { p("VPRORD $%d, %s, %s", rd, z(d), z(d)) })
		step(func(i, a, b, c, d int) { p("VPADDD %s, %s, %s", z(d), z(c), z(c)) })
		step(func(i, a, b, c, d int) { p("VPXORD %s, %s, %s", z(c), z(b), z(b)) })
		step(func(i, a, b, c, d int) { p("VPRORD $%d, %s, %s", rb, z(b), z(b)) })
	}
}

// initRest sets v8-v11 to the IV, v12 and v13 to the counters at (BX) and
// 64(BX), v14 to 64 (the block length) and v15 to the flags in AX.
func initRest() {
	for i := 0; i < 4; i++ {
		p("MOVL $0x%08X, CX", iv[i])
		p("VPBROADCASTD CX, %s", z(8+i))
	}
	p("VMOVDQU32 (BX), Z12")
	p("VMOVDQU32 64(BX), Z13")
	p("MOVL $64, CX")
	p("VPBROADCASTD CX, Z14")
	p("VPBROADCASTD AX, Z15")
}

func initCV() {
	for i := 0; i < 8; i++ {
		p("MOVL $0x%08X, CX", iv[i])
		p("VPBROADCASTD CX, %s", z(i))
	}
}

// finish sets v0-v7 to the new chaining values.
func finish() {
	for i := 0; i < 8; i++ {
		p("VPXORD %s, %s, %s", z(8+i), z(i), z(i))
	}
}

// store scatters the chaining values to out, lane l's eight words at
// l*32(DI).
func store() {
	p("VMOVDQU32 laneOffsets<>(SB), Z16")
	for i := 0; i < 8; i++ {
		p("KXNORW K1, K1, K1")
		p("VPSCATTERDD %s, K1, %d(DI)(Z16*1)", z(i), 4*i)
	}
}

// text writes a function func name(out *[16][8]uint32, <args>): the
// chaining values start as the IV, body runs, and they are stored to out.
func text(name, args, msgs, ctr string, body func()) {
	fmt.Fprintf(&out, "\n// func %s(out *[16][8]uint32, %s)\n", name, args)
	fmt.Fprintf(&out, "TEXT ·%s(SB), 0, $1024-24\n", name)
	p("MOVQ out+0(FP), DI")
	p("MOVQ %s+8(FP), DX", msgs)
	p("MOVQ %s+16(FP), BX", ctr)
	initCV()
	body()
	store()
	p("VZEROUPPER")
	p("RET")
}

// block compresses one block of each lane, the rows stride bytes apart
// from (DX), into v0-v7.
func block(stride int) {
	loadTransposed(stride)
	initRest()
	rounds()
	finish()
}

func main() {
	fmt.Fprintf(&out, "// Code generated by asm_gen.go. DO NOT EDIT.\n\n//go:build !purego\n\n#include \"textflag.h\"\n\n")
	for l := 0; l < 16; l++ {
		fmt.Fprintf(&out, "DATA laneOffsets<>+%d(SB)/4, $%d\n", 4*l, 32*l)
	}
	fmt.Fprintf(&out, "GLOBL laneOffsets<>(SB), RODATA|NOPTR, $64\n")

	// Both functions take (out, msgs, ctr): DI, DX and BX; chunks16's
	// counters are per lane, parents16's all zero.
	text("chunks16", "data *[16 * 1024]byte, ctr *[2][16]uint32", "data", "ctr", func() {
		p("XORQ SI, SI")
		fmt.Fprintf(&out, "block:\n")
		// Flags: CHUNK_START on block 0, CHUNK_END on block 15.
		p("XORL AX, AX")
		p("CMPQ SI, $0")
		p("JNE notfirst")
		p("MOVL $%d, AX", flagChunkStart)
		fmt.Fprintf(&out, "notfirst:\n")
		p("CMPQ SI, $15")
		p("JNE notlast")
		p("MOVL $%d, AX", flagChunkEnd)
		fmt.Fprintf(&out, "notlast:\n")
		block(1024)
		p("ADDQ $64, DX")
		p("INCQ SI")
		p("CMPQ SI, $16")
		p("JNE block")
	})
	text("parents16", "msgs *[16][16]uint32, zero *[2][16]uint32", "msgs", "zero", func() {
		p("MOVL $%d, AX", flagParent)
		block(64)
	})

	if err := os.WriteFile("b3_amd64.s", out.Bytes(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
