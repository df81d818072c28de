package outboard

import (
	"errors"
	"math/rand/v2"
	"testing"

	"lukechampine.com/blake3/guts"
)

// TestGroupCVs checks the SIMD group hashing against lukechampine.com/blake3
// for batches of every size up to two full ones, at group indexes whose
// chunk counters need the high word, and with bytes that differ per chunk.
func TestGroupCVs(t *testing.T) {
	if !haveGroups16 && !haveGroups8 {
		t.Skip("no AVX-512 nor AVX2 here: Check uses lukechampine.com/blake3 alone")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 2*groupBatch*GroupSize+GroupSize)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	var scratch [GroupSize]byte
	for _, first := range []int64{0, 1, 7, 1<<28 - 3, 1<<28 + 5, 1 << 40} {
		for n := 1; n <= 2*groupBatch+1; n++ {
			got := make([][8]uint32, n)
			groupCVs(data[:n*GroupSize], first, got)
			for i := range n {
				want := guts.ChainingValue(compressGroup(data[i*GroupSize:(i+1)*GroupSize], first+int64(i), &scratch))
				if got[i] != want {
					t.Fatalf("first %d, %d groups: group %d chaining value %08x, want %08x", first, n, i, got[i], want)
				}
			}
		}
	}
}

// TestCheckFindsFlippedBit flips one bit in each group of a resource in
// turn and checks that Check names that group, with and without the SIMD
// path.
func TestCheckFindsFlippedBit(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	n := int64(37*GroupSize + 1234)
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	tree, root := encode(t, data)
	tr, err := NewTree(tree, root, n)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Check(0, data); err != nil {
		t.Fatalf("intact bytes: %v", err)
	}
	for g := int64(0); g < Groups(n); g++ {
		off := g*GroupSize + rng.Int64N(min(GroupSize, n-g*GroupSize))
		bit := byte(1) << rng.IntN(8)
		data[off] ^= bit
		err := tr.Check(0, data)
		data[off] ^= bit
		var ce *CorruptError
		if !errors.As(err, &ce) || ce.Off != g*GroupSize {
			t.Fatalf("bit flipped at %d: Check says %v, want the group at %d", off, err, g*GroupSize)
		}
	}
}

func BenchmarkGroupCVs(b *testing.B) {
	if !haveGroups16 && !haveGroups8 {
		b.Skip("no AVX-512 nor AVX2")
	}
	data := make([]byte, 256<<10)
	cvs := make([][8]uint32, len(data)/GroupSize)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		groupCVs(data, 1, cvs)
	}
}

func BenchmarkGroupsGuts(b *testing.B) {
	data := make([]byte, 256<<10)
	var scratch [GroupSize]byte
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		for g := range len(data) / GroupSize {
			guts.ChainingValue(compressGroup(data[g*GroupSize:(g+1)*GroupSize], int64(g+1), &scratch))
		}
	}
}

// TestTreeRejectsLiesBatched flips one bit in each parent entry of a tree
// of 70 groups, more than four batches of 16, in turn.
func TestTreeRejectsLiesBatched(t *testing.T) {
	n := int64(70*GroupSize - 5)
	data := randomBytes(int(n), 9)
	tree, root := encode(t, data)
	if _, err := NewTree(tree, root, n); err != nil {
		t.Fatalf("intact tree: %v", err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for e := 0; e < int(Groups(n)-1); e++ {
		i := 8 + 64*e + rng.IntN(64)
		bit := byte(1) << rng.IntN(8)
		tree[i] ^= bit
		_, err := NewTree(tree, root, n)
		tree[i] ^= bit
		if !errors.Is(err, ErrBadTree) {
			t.Fatalf("entry %d, byte %d flipped: %v", e, i, err)
		}
	}
}
