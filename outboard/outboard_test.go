package outboard

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"lukechampine.com/blake3"
	"lukechampine.com/blake3/bao"

	"github.com/rtp-project/rtp/urn"
)

type bufferAt []byte

func (b bufferAt) WriteAt(p []byte, off int64) (int, error) { return copy(b[off:], p), nil }

var sizes = []int{0, 1, 1023, 1024, 1025, GroupSize - 1, GroupSize, GroupSize + 1, 2 * GroupSize,
	3*GroupSize + 5, 4 * GroupSize, 5 * GroupSize, 7*GroupSize + 1, 8 * GroupSize, 100<<10 + 7, 1<<20 + 3, 3 << 20}

func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	r.Read(b)
	return b
}

// encode feeds data to an Encoder in pieces of random sizes.
func encode(t *testing.T, data []byte) ([]byte, [32]byte) {
	t.Helper()
	tree := make(bufferAt, Size(int64(len(data))))
	e := NewEncoder(int64(len(data)), tree)
	r := rand.New(rand.NewPCG(uint64(len(data)), 1))
	for p := data; len(p) > 0; {
		k := min(len(p), 1+r.IntN(3*GroupSize))
		e.Write(p[:k])
		p = p[k:]
	}
	var root [32]byte
	copy(root[:], e.Sum(nil))
	if err := e.Err(); err != nil {
		t.Fatal(err)
	}
	return tree, root
}

// encodeWhole feeds data to an Encoder in one Write, so that whole groups
// go 16 at a time.
func encodeWhole(t *testing.T, data []byte) ([]byte, [32]byte) {
	t.Helper()
	tree := make(bufferAt, Size(int64(len(data))))
	e := NewEncoder(int64(len(data)), tree)
	e.Write(data)
	var root [32]byte
	copy(root[:], e.Sum(nil))
	if err := e.Err(); err != nil {
		t.Fatal(err)
	}
	return tree, root
}

func TestEncoderMatchesBao(t *testing.T) {
	for _, n := range append(sizes, 17*GroupSize, 33*GroupSize+1) {
		data := randomBytes(n, uint64(n))
		want, wantRoot := bao.EncodeBuf(data, GroupLog, true)
		for how, enc := range map[string]func(*testing.T, []byte) ([]byte, [32]byte){"in pieces": encode, "whole": encodeWhole} {
			tree, root := enc(t, data)
			if root != blake3.Sum256(data) || root != wantRoot {
				t.Errorf("%d bytes written %s: root differs from blake3", n, how)
			}
			if !bytes.Equal(tree, want) {
				t.Errorf("%d bytes written %s: tree differs from bao's", n, how)
			}
		}
		if int64(len(want)) != Size(int64(n)) {
			t.Errorf("%d bytes: Size %d, bao %d", n, Size(int64(n)), len(want))
		}
	}
}

func TestEncoderWrongLength(t *testing.T) {
	e := NewEncoder(10, make(bufferAt, Size(10)))
	e.Write(make([]byte, 9))
	e.Sum(nil)
	if e.Err() == nil {
		t.Error("short input accepted")
	}
	e = NewEncoder(10, make(bufferAt, Size(10)))
	e.Write(make([]byte, 11))
	e.Sum(nil)
	if e.Err() == nil {
		t.Error("long input accepted")
	}
}

func TestTreeCheck(t *testing.T) {
	for _, n := range sizes {
		data := randomBytes(n, uint64(n))
		tree, root := encode(t, data)
		tr, err := NewTree(tree, root, int64(n))
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if err := tr.Check(0, data); err != nil {
			t.Errorf("%d bytes: whole: %v", n, err)
		}
		for off := 0; off < n; off += GroupSize {
			g := data[off:min(off+GroupSize, n)]
			if err := tr.Check(int64(off), g); err != nil {
				t.Errorf("%d bytes: group at %d: %v", n, off, err)
			}
			if !bao.VerifyChunk(g, tree, GroupLog, uint64(off), root) {
				t.Errorf("%d bytes: bao rejects group at %d", n, off)
			}
			bad := bytes.Clone(g)
			bad[len(bad)/2] ^= 1
			var ce *CorruptError
			if err := tr.Check(int64(off), bad); !errors.As(err, &ce) || ce.Off != int64(off) || !errors.Is(err, ErrCorrupt) {
				t.Errorf("%d bytes: bad group at %d: %v", n, off, err)
			}
		}
		if last := (n - 1) / GroupSize * GroupSize; n-last >= 2 {
			if err := tr.Check(int64(last), data[last:n-1]); err == nil || errors.Is(err, ErrCorrupt) {
				t.Errorf("%d bytes: part of the last group: %v", n, err)
			}
		}
	}
}

func TestTreeRejectsLies(t *testing.T) {
	n := 5*GroupSize + 100
	data := randomBytes(n, 7)
	tree, root := encode(t, data)
	for i := 8; i < len(tree); i++ {
		bad := bytes.Clone(tree)
		bad[i] ^= 0x80
		if _, err := NewTree(bad, root, int64(n)); !errors.Is(err, ErrBadTree) {
			t.Fatalf("byte %d flipped: %v", i, err)
		}
	}
	if _, err := NewTree(tree, root, int64(n-1)); !errors.Is(err, ErrBadTree) {
		t.Errorf("wrong length: %v", err)
	}
	if _, err := NewTree(tree[:len(tree)-1], root, int64(n)); !errors.Is(err, ErrBadTree) {
		t.Errorf("short tree: %v", err)
	}
	root[0] ^= 1
	if _, err := NewTree(tree, root, int64(n)); !errors.Is(err, ErrBadTree) {
		t.Errorf("wrong root: %v", err)
	}
	// One group: the root itself checks the data.
	small := randomBytes(100, 1)
	tree, root = encode(t, small)
	tr, err := NewTree(tree, root, 100)
	if err != nil {
		t.Fatal(err)
	}
	small[0] ^= 1
	if err := tr.Check(0, small); !errors.Is(err, ErrCorrupt) {
		t.Errorf("bad single group: %v", err)
	}
	var empty [32]byte
	if _, err := NewTree(make([]byte, 8), empty, 0); !errors.Is(err, ErrBadTree) {
		t.Errorf("empty resource with a wrong root: %v", err)
	}
}

func TestURI(t *testing.T) {
	h := urn.New(urn.BLAKE3, blake3.Sum256([]byte("x")))
	got, err := ParseURI(URI(h))
	if err != nil || got != h {
		t.Fatalf("round trip: %v %v", got, err)
	}
	if got, err := ParseURI("URN:BLAKE3-OUTBOARD:" + h.Hex()); err != nil || got != h {
		t.Errorf("upper case: %v", err)
	}
	for _, bad := range []struct {
		s    string
		want error
	}{
		{"urn:blake3:" + h.Hex(), urn.ErrUnsupported},
		{"", urn.ErrUnsupported},
		{"urn:blake3-outboard:" + h.Hex()[1:], urn.ErrMalformed},
		{"urn:blake3-outboard:" + h.Hex()[1:] + "g", urn.ErrMalformed},
	} {
		if _, err := ParseURI(bad.s); !errors.Is(err, bad.want) {
			t.Errorf("%q: %v, want %v", bad.s, err, bad.want)
		}
	}
}

func BenchmarkEncoder(b *testing.B) {
	data := randomBytes(64<<20, 1)
	tree := make(bufferAt, Size(int64(len(data))))
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		e := NewEncoder(int64(len(data)), tree)
		for p := data; len(p) > 0; p = p[1<<20:] {
			e.Write(p[:1<<20])
		}
		e.Sum(nil)
	}
}

func BenchmarkBLAKE3(b *testing.B) {
	data := randomBytes(64<<20, 1)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		h := blake3.New(32, nil)
		for p := data; len(p) > 0; p = p[1<<20:] {
			h.Write(p[:1<<20])
		}
		h.Sum(nil)
	}
}

func BenchmarkCheck(b *testing.B) {
	data := randomBytes(64<<20, 1)
	tree := make(bufferAt, Size(int64(len(data))))
	e := NewEncoder(int64(len(data)), tree)
	e.Write(data)
	var root [32]byte
	copy(root[:], e.Sum(nil))
	tr, err := NewTree(tree, root, int64(len(data)))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := tr.Check(0, data); err != nil {
			b.Fatal(err)
		}
	}
}

// TestEncoderLengthChanged is a file that shrank or grew while it was
// hashed: the Encoder was told n bytes and got others. Sum must not panic
// (joining the groups of m bytes as if they were n asked slot for parents
// the tree has not got), must return zeros, and Err must say so.
func TestEncoderLengthChanged(t *testing.T) {
	for _, c := range []struct{ announced, written int }{
		{5 * GroupSize, 2*GroupSize + 1}, // panicked: negative shift amount in leftGroups
		{2*GroupSize + 1, GroupSize + 1},
		{3 * GroupSize, 2*GroupSize - 7},
		{5*GroupSize + 7, 3 * GroupSize},
		{17 * GroupSize, 16 * GroupSize},
		{33*GroupSize + 1, 1},
		{100 << 10, 0},
		{3 * GroupSize, 3*GroupSize + 1},
		{3 * GroupSize, 4 * GroupSize},
		{GroupSize + 1, 40 * GroupSize},
		{0, 5},
	} {
		for how, pieces := range map[string]int{"whole": 1 << 30, "in pieces": 5000} {
			t.Run(fmt.Sprintf("%d-as-%d-%s", c.written, c.announced, how), func(t *testing.T) {
				data := randomBytes(c.written, 7)
				e := NewEncoder(int64(c.announced), make(bufferAt, Size(int64(c.announced))))
				for p := data; len(p) > 0; {
					k := min(len(p), pieces)
					e.Write(p[:k])
					p = p[k:]
				}
				sum := e.Sum(nil)
				if e.Err() == nil {
					t.Fatalf("%d bytes written for %d announced: Err is nil", c.written, c.announced)
				}
				if !bytes.Equal(sum, make([]byte, 32)) {
					t.Errorf("Sum = %x, want zeros", sum)
				}
				if again := e.Sum(nil); !bytes.Equal(again, sum) {
					t.Errorf("second Sum %x, first %x", again, sum)
				}
			})
		}
	}
}

func TestEncoderOddLengths(t *testing.T) {
	for _, n := range []int64{-1, -GroupSize - 1, math.MaxInt64, math.MaxInt64 - GroupSize + 2} {
		e := NewEncoder(n, bufferAt(nil))
		e.Write(make([]byte, 3*GroupSize))
		e.Sum(nil)
		if e.Err() == nil {
			t.Errorf("NewEncoder(%d) after %d bytes: Err is nil", n, 3*GroupSize)
		}
		if g := Groups(n); g < 1 || (n > 0 && g < n/GroupSize) {
			t.Errorf("Groups(%d) = %d", n, g)
		}
	}
}
