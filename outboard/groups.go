package outboard

import "lukechampine.com/blake3/guts"

// groupCVsGeneric is groupCVs through lukechampine.com/blake3, one group at
// a time.
func groupCVsGeneric(p []byte, first int64, cvs [][8]uint32) {
	for i := range cvs {
		cvs[i] = guts.ChainingValue(compressGroup(p[i*GroupSize:(i+1)*GroupSize], first+int64(i), nil))
	}
}

// parentCVsGeneric is parentCVs through lukechampine.com/blake3.
func parentCVsGeneric(out *[16][8]uint32, msgs *[16][16]uint32, n int) {
	for l := range n {
		out[l] = guts.ChainingValue(guts.ParentNode([8]uint32(msgs[l][:8]), [8]uint32(msgs[l][8:]), &guts.IV, 0))
	}
}
