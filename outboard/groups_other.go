//go:build !amd64 || purego

package outboard

const haveGroups16 = false

func groupCVs([]byte, int64, [][8]uint32) { panic("outboard: no SIMD group hashing here") }

func parents16(*[16][8]uint32, *[16][16]uint32, *[2][16]uint32) {
	panic("outboard: no SIMD parent hashing here")
}
