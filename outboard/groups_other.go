//go:build !amd64 || purego

package outboard

const haveGroups16, haveGroups8 = false, false

// groupCVs sets cvs[i] to the chaining value of group first+i, whose 16
// KiB are at p[i*GroupSize:]. No group may be the root (the resource has
// more than one group).
func groupCVs(p []byte, first int64, cvs [][8]uint32) { groupCVsGeneric(p, first, cvs) }

// parentCVs sets out[l], for l < n, to the chaining value of the non-root
// parent whose children's chaining values are msgs[l] (left then right).
func parentCVs(out *[16][8]uint32, msgs *[16][16]uint32, n int) { parentCVsGeneric(out, msgs, n) }
