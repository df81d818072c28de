package outboard

import (
	"testing"

	"lukechampine.com/blake3"
)

func TestSum(t *testing.T) {
	buf := make([]byte, 5<<20)
	for i := range buf {
		buf[i] = byte(i*31 + i>>11)
	}
	for _, n := range []int{0, 1, 64, 1023, 1024, 1025, 4096, GroupSize - 1, GroupSize, GroupSize + 1,
		2 * GroupSize, 3*GroupSize + 7, 16 * GroupSize, 17*GroupSize + 5, 33 * GroupSize, 100000, 1 << 20, 4<<20 + 3, 5 << 20} {
		if got, want := Sum(buf[:n]), blake3.Sum256(buf[:n]); got != want {
			t.Errorf("Sum of %d bytes: %x, want %x", n, got, want)
		}
	}
}

func BenchmarkSum4K(b *testing.B) {
	p := make([]byte, 4096)
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		Sum(p)
	}
}

func BenchmarkSum1M(b *testing.B) {
	p := make([]byte, 1<<20)
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		Sum(p)
	}
}
