package outboard

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// sink records what a Verifier passes on, write by write.
type sink struct {
	bytes.Buffer
	writes []int
	fail   error
}

func (s *sink) Write(p []byte) (int, error) {
	if s.fail != nil {
		return 0, s.fail
	}
	s.writes = append(s.writes, len(p))
	return s.Buffer.Write(p)
}

// feed writes p to v in pieces of random sizes, up to 3 groups, and
// returns the first error.
func feed(v *Verifier, p []byte, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, 2))
	for len(p) > 0 {
		k := min(len(p), 1+r.IntN(3*GroupSize))
		n, err := v.Write(p[:k])
		if err != nil {
			return err
		}
		if n != k {
			return errors.New("short write without an error")
		}
		p = p[k:]
	}
	return nil
}

func newTreeOf(t *testing.T, data []byte) *Tree {
	t.Helper()
	tree, root := encode(t, data)
	tr, err := NewTree(tree, root, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// Every range of whole groups (the last one short when it ends the
// resource), fed in pieces of any size, reaches the sink exact, whole
// groups at a time.
func TestVerifierPassesRanges(t *testing.T) {
	for _, n := range sizes {
		data := randomBytes(n, uint64(n))
		tr := newTreeOf(t, data)
		ranges := [][2]int{{0, n}}
		for off := 0; off < n; off += 2 * GroupSize {
			ranges = append(ranges, [2]int{off, min(off+GroupSize, n)}, [2]int{off, n})
		}
		for _, r := range ranges {
			off, end := r[0], r[1]
			var s sink
			v, err := NewVerifier(tr, int64(off), int64(end), &s)
			if err != nil {
				t.Fatalf("%d bytes, [%d, %d): %v", n, off, end, err)
			}
			if err := feed(v, data[off:end], uint64(off)); err != nil {
				t.Fatalf("%d bytes, [%d, %d): %v", n, off, end, err)
			}
			if !bytes.Equal(s.Bytes(), data[off:end]) || !v.Done() || v.Verified() != int64(end-off) || v.Remaining() != 0 {
				t.Errorf("%d bytes, [%d, %d): sink got %d bytes, Done %v, Verified %d, Remaining %d",
					n, off, end, s.Len(), v.Done(), v.Verified(), v.Remaining())
			}
			for i, w := range s.writes {
				if w%GroupSize != 0 && i != len(s.writes)-1 {
					t.Errorf("%d bytes, [%d, %d): write %d of %d bytes, not whole groups", n, off, end, i, w)
				}
			}
		}
	}
}

// Bytes that do not match the tree stop at the first bad group: the sink
// has every group before it and nothing from it on, the error names its
// offset, and the Verifier takes nothing more.
func TestVerifierRejectsBadBytes(t *testing.T) {
	n := 9*GroupSize + 123
	data := randomBytes(n, 9)
	tr := newTreeOf(t, data)
	off, end := 2*GroupSize, n
	for _, badAt := range []int{off, off + 1, off + GroupSize - 1, off + 3*GroupSize + 77, n - 1} {
		bad := bytes.Clone(data)
		bad[badAt] ^= 0x10
		var s sink
		v, err := NewVerifier(tr, int64(off), int64(end), &s)
		if err != nil {
			t.Fatal(err)
		}
		err = feed(v, bad[off:end], uint64(badAt))
		group := badAt / GroupSize * GroupSize
		var ce *CorruptError
		if !errors.As(err, &ce) || ce.Off != int64(group) || !errors.Is(err, ErrCorrupt) {
			t.Errorf("byte %d flipped: %v; want a CorruptError at %d", badAt, err, group)
		}
		if !bytes.Equal(s.Bytes(), data[off:group]) || v.Verified() != int64(group-off) || v.Done() {
			t.Errorf("byte %d flipped: the sink got %d bytes, want the %d before group %d", badAt, s.Len(), group-off, group)
		}
		if k, again := v.Write(data[group:min(group+GroupSize, n)]); k != 0 || again != err || v.Err() != err {
			t.Errorf("byte %d flipped: a Write after the error took %d bytes: %v", badAt, k, again)
		}
	}

	// The right bytes for another range: a group's bytes are bound to its
	// place in the resource.
	var s sink
	v, _ := NewVerifier(tr, 0, GroupSize, &s)
	if _, err := v.Write(data[GroupSize : 2*GroupSize]); !errors.Is(err, ErrCorrupt) || s.Len() != 0 {
		t.Errorf("the group at %d fed as the group at 0: %v, %d bytes passed", GroupSize, err, s.Len())
	}

	// More bytes than the range holds: refused whole, nothing passed.
	s = sink{}
	v, _ = NewVerifier(tr, 0, GroupSize, &s)
	if k, err := v.Write(data[:GroupSize+1]); k != 0 || !errors.Is(err, ErrPastRange) || s.Len() != 0 {
		t.Errorf("one byte past the range: took %d, %v, %d bytes passed", k, err, s.Len())
	}

	// A sink that fails stops the Verifier with its error, which is not
	// the sender's fault.
	errDisk := errors.New("disk full")
	v, _ = NewVerifier(tr, 0, int64(n), &sink{fail: errDisk})
	if err := feed(v, data, 1); !errors.Is(err, errDisk) || errors.Is(err, ErrCorrupt) {
		t.Errorf("a failing sink: %v", err)
	}
}

// A Verifier checks whole groups of its own tree's resource only; a tree
// for another length, or of the wrong size, is refused before any byte.
func TestVerifierRanges(t *testing.T) {
	n := 4*GroupSize + 10
	data := randomBytes(n, 4)
	tr := newTreeOf(t, data)
	for _, r := range [][2]int64{
		{-GroupSize, 0},            // before the start
		{1, GroupSize},             // not a group boundary
		{0, GroupSize + 1},         // ends inside a group
		{0, int64(n) + 1},          // past the end
		{0, 5 * GroupSize},         // past the end, on a boundary
		{2 * GroupSize, GroupSize}, // backwards
		{5 * GroupSize, 5 * GroupSize},
	} {
		if _, err := NewVerifier(tr, r[0], r[1], &sink{}); err == nil {
			t.Errorf("NewVerifier [%d, %d) of %d bytes: no error", r[0], r[1], n)
		}
	}
	if v, err := NewVerifier(tr, int64(n), int64(n), &sink{}); err != nil || !v.Done() {
		t.Errorf("the empty range at the end: %v", err)
	}

	// The tree of the first 3 groups, under the root of all 4 and a bit,
	// and the right tree with a group's entry too many or too few.
	tree, root := encode(t, data)
	short, _ := encode(t, data[:3*GroupSize])
	if _, err := NewTree(short, root, int64(n)); !errors.Is(err, ErrBadTree) {
		t.Errorf("a tree of the wrong size: %v", err)
	}
	if _, err := NewTree(append(bytes.Clone(tree), make([]byte, 64)...), root, int64(n)); !errors.Is(err, ErrBadTree) {
		t.Errorf("a tree 64 bytes too long: %v", err)
	}
	if _, err := NewTree(tree[:len(tree)-64], root, int64(n)); !errors.Is(err, ErrBadTree) {
		t.Errorf("a tree 64 bytes too short: %v", err)
	}
	// A tree that checks out for a shorter resource covers no byte past it.
	head := data[:3*GroupSize]
	trShort := newTreeOf(t, head)
	if _, err := NewVerifier(trShort, 0, int64(n), &sink{}); err == nil {
		t.Errorf("a Verifier of %d bytes over the tree of %d", n, len(head))
	}
}
