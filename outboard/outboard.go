package outboard

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/bits"
	"strings"

	"lukechampine.com/blake3/guts"

	"github.com/rtp-project/rtp/urn"
)

const (
	// GroupLog is the chunk group of the tree as bao counts it: 2^4 chunks
	// of 1 KiB per leaf.
	GroupLog = 4
	// GroupSize is the unit a client checks: 16 KiB. It is exactly what one
	// call of the SIMD compressor hashes (16 chunks, AVX-512 lanes), so a
	// group costs one call and no copy; the tree costs 64 bytes per group,
	// 0.39% of the data.
	GroupSize = guts.ChunkSize << GroupLog

	// groupBatch is how many groups groupCVs hashes at once: their parents
	// fill the 16 lanes level by level.
	groupBatch = 16

	// Scheme is the URI prefix under which servers offer a blake3 urn's tree.
	Scheme = "urn:blake3-outboard:"
)

var (
	// ErrBadTree means a tree does not hash to its root for the given length.
	ErrBadTree = errors.New("blake3 tree does not match its hash")
	// ErrCorrupt means bytes do not match the tree.
	ErrCorrupt = errors.New("bytes do not match the blake3 tree")
)

// CorruptError says where bytes first failed the tree. It matches ErrCorrupt.
type CorruptError struct {
	Off int64 // offset of the first bad group
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("%v: group at offset %d", ErrCorrupt, e.Off)
}

func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// URI returns the URI of the tree of the blake3 hash h.
func URI(h urn.Hash) string { return Scheme + h.Hex() }

// ParseURI parses a tree URI; the scheme and hex are case-insensitive. It
// returns the blake3 hash the tree belongs to. Errors wrap
// urn.ErrUnsupported (another scheme) or urn.ErrMalformed.
func ParseURI(s string) (urn.Hash, error) {
	if len(s) < len(Scheme) || !strings.EqualFold(s[:len(Scheme)], Scheme) {
		return urn.Hash{}, fmt.Errorf("%w: %.40q", urn.ErrUnsupported, s)
	}
	v := s[len(Scheme):]
	h := urn.Hash{Kind: urn.BLAKE3}
	if len(v) != 2*urn.Size {
		return urn.Hash{}, fmt.Errorf("%w: tree value has %d characters, want %d", urn.ErrMalformed, len(v), 2*urn.Size)
	}
	if _, err := hex.Decode(h.Sum[:], []byte(v)); err != nil {
		return urn.Hash{}, fmt.Errorf("%w: tree value is not hex", urn.ErrMalformed)
	}
	return h, nil
}

// Groups returns the number of leaf groups of an n-byte resource (at least
// one: the empty resource has one empty group). A negative n counts as 0,
// and n near math.MaxInt64 does not overflow.
func Groups(n int64) int64 {
	g := n / GroupSize
	if n%GroupSize > 0 {
		g++
	}
	return max(g, 1)
}

// Size returns the size of the tree of an n-byte resource.
func Size(n int64) int64 { return 8 + 64*(Groups(n)-1) }

// leftGroups is how many of g groups (g >= 2) the left subtree holds: the
// largest power of two below g, as BLAKE3 splits.
func leftGroups(g int64) int64 { return 1 << (bits.Len64(uint64(g-1)) - 1) }

// compressGroup returns the node of group i, p being all of its bytes.
func compressGroup(p []byte, i int64, scratch *[GroupSize]byte) guts.Node {
	buf := scratch
	if len(p) == GroupSize {
		buf = (*[GroupSize]byte)(p)
	} else {
		copy(buf[:], p)
	}
	return guts.CompressBuffer(buf, len(p), &guts.IV, uint64(i)<<GroupLog, 0)
}

func cvOf(b []byte) (cv [8]uint32) {
	for i := range cv {
		cv[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return cv
}

func putCV(b []byte, cv [8]uint32) {
	for i, w := range cv {
		binary.LittleEndian.PutUint32(b[4*i:], w)
	}
}
