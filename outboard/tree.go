package outboard

import (
	"encoding/binary"
	"errors"
	"fmt"

	"lukechampine.com/blake3/guts"
)

// Tree is a resource's BLAKE3 tree, checked against the root: it holds the
// chaining value of every 16 KiB group, 32 bytes each.
type Tree struct {
	n      int64
	leaves [][8]uint32 // for a single group, the root
}

// NewTree checks tree (as URI serves it) against the blake3 root of an
// n-byte resource and returns it. Any parent entry that does not hash to
// the entry above it, a length other than n, or a size other than Size(n)
// is ErrBadTree: once NewTree succeeds, every group's chaining value is the
// one the root commits to, so a group that fails Check is the sender's
// fault, never the tree's.
func NewTree(tree []byte, root [32]byte, n int64) (*Tree, error) {
	if n < 0 || int64(len(tree)) != Size(n) {
		return nil, fmt.Errorf("%w: %d bytes for a %d-byte resource, want %d", ErrBadTree, len(tree), n, Size(n))
	}
	if got := binary.LittleEndian.Uint64(tree); got != uint64(n) {
		return nil, fmt.Errorf("%w: it is for %d bytes, want %d", ErrBadTree, got, n)
	}
	t := &Tree{n: n, leaves: make([][8]uint32, Groups(n))}
	entries := tree[8:]
	next := 0
	// Entries below the root are checked 16 at a time (see parentCVs).
	batch := new(parentBatch)
	var walk func(cv [8]uint32, lo, hi int64, flags uint32) bool
	walk = func(cv [8]uint32, lo, hi int64, flags uint32) bool {
		if hi-lo == 1 {
			t.leaves[lo] = cv
			return true
		}
		e := entries[64*next : 64*next+64]
		next++
		l, r := cvOf(e[:32]), cvOf(e[32:])
		if flags == 0 {
			if !batch.add(e, cv) {
				return false
			}
		} else if guts.ChainingValue(guts.ParentNode(l, r, &guts.IV, flags)) != cv {
			return false
		}
		mid := lo + leftGroups(hi-lo)
		return walk(l, lo, mid, 0) && walk(r, mid, hi, 0)
	}
	if !walk(cvOf(root[:]), 0, Groups(n), guts.FlagRoot) || !batch.flush() {
		return nil, ErrBadTree
	}
	if n == 0 {
		// No parent entries: the empty group is checked here.
		if err := t.Check(0, nil); err != nil {
			return nil, ErrBadTree
		}
	}
	return t, nil
}

// Len returns the resource's length.
func (t *Tree) Len() int64 { return t.n }

// Check checks p, the bytes at off. off must be a multiple of GroupSize and
// p must hold whole groups (the last group of the resource may be short). A
// group that does not match is a *CorruptError naming its offset.
func (t *Tree) Check(off int64, p []byte) error {
	if off%GroupSize != 0 || off < 0 {
		return fmt.Errorf("outboard: check at %d, not a group boundary", off)
	}
	if len(t.leaves) > 1 {
		if err := t.checkWhole(&off, &p); err != nil {
			return err
		}
	}
	var scratch *[GroupSize]byte
	for first := true; len(p) > 0 || (first && t.n == 0); first = false {
		i := off / GroupSize
		if i >= int64(len(t.leaves)) {
			return &CorruptError{Off: off}
		}
		want := min(GroupSize, t.n-off)
		if int64(len(p)) < want {
			return errPartial
		}
		if want < GroupSize && scratch == nil {
			scratch = new([GroupSize]byte)
		}
		n := compressGroup(p[:want], i, scratch)
		if len(t.leaves) == 1 {
			n.Flags |= guts.FlagRoot
		}
		if guts.ChainingValue(n) != t.leaves[i] {
			return &CorruptError{Off: off}
		}
		off, p = off+want, p[want:]
	}
	return nil
}

var errPartial = errors.New("outboard: check of part of a group")

// checkWhole checks the whole 16 KiB groups at the start of p, 16 at a
// time (groupCVs), and advances off and p past those that match.
func (t *Tree) checkWhole(off *int64, p *[]byte) error {
	var cvs [groupBatch][8]uint32
	for {
		i := *off / GroupSize
		n := min(int64(len(*p)), t.n-*off) / GroupSize
		n = min(n, int64(len(t.leaves))-i, groupBatch)
		if n <= 0 {
			return nil
		}
		groupCVs((*p)[:n*GroupSize], i, cvs[:n])
		for k := range n {
			if cvs[k] != t.leaves[i+k] {
				return &CorruptError{Off: (i + k) * GroupSize}
			}
		}
		*off += n * GroupSize
		*p = (*p)[n*GroupSize:]
	}
}

// parentBatch checks non-root parent entries of a tree 16 at a time: each
// entry's 64 bytes (left and right chaining values) are the message of the
// parent node whose chaining value the entry above gives.
type parentBatch struct {
	msgs [16][16]uint32
	want [16][8]uint32
	n    int
	out  [16][8]uint32
}

// add queues entry e, whose chaining value must be want; it reports false
// once a full batch has failed.
func (b *parentBatch) add(e []byte, want [8]uint32) bool {
	for w := range b.msgs[b.n] {
		b.msgs[b.n][w] = binary.LittleEndian.Uint32(e[4*w:])
	}
	b.want[b.n] = want
	b.n++
	if b.n < len(b.msgs) {
		return true
	}
	return b.flush()
}

// flush checks the queued entries.
func (b *parentBatch) flush() bool {
	if b.n == 0 {
		return true
	}
	parentCVs(&b.out, &b.msgs, b.n)
	for l := range b.n {
		if b.out[l] != b.want[l] {
			return false
		}
	}
	b.n = 0
	return true
}
