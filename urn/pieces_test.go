package urn

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"sync/atomic"
	"testing"

	"lukechampine.com/blake3"
)

// pieces returns a HashPieces source over data in pieces of the given
// sizes (the last one repeated), and a count of pieces not yet released.
func pieces(data []byte, sizes ...int) (next func() (Piece, error), held func() int) {
	var out atomic.Int32
	k := 0
	return func() (Piece, error) {
			if len(data) == 0 {
				return Piece{}, io.EOF
			}
			n := min(sizes[min(k, len(sizes)-1)], len(data))
			k++
			p := Piece{B: data[:n:n]}
			data = data[n:]
			out.Add(1)
			var released atomic.Bool
			p.Release = func() {
				if released.Swap(true) {
					panic("piece released twice")
				}
				out.Add(-1)
			}
			return p, nil
		}, func() int {
			return int(out.Load())
		}
}

func TestHashPieces(t *testing.T) {
	data := make([]byte, 5<<20+3)
	rand.Read(data)
	for _, kinds := range [][]Kind{nil, {SHA256}, {BLAKE3}} {
		next, held := pieces(data, 1, 4096, 1<<20, 333)
		s, err := HashPieces(next, kinds...)
		if err != nil {
			t.Fatal(err)
		}
		if s.N != int64(len(data)) {
			t.Errorf("kinds %v: N = %d, want %d", kinds, s.N, len(data))
		}
		wantSHA, wantB3 := sha256.Sum256(data), blake3.Sum256(data)
		if len(kinds) == 1 && kinds[0] == BLAKE3 {
			wantSHA = [Size]byte{}
		}
		if len(kinds) == 1 && kinds[0] == SHA256 {
			wantB3 = [Size]byte{}
		}
		if s.SHA256 != wantSHA || s.BLAKE3 != wantB3 {
			t.Errorf("kinds %v: wrong sums", kinds)
		}
		if n := held(); n != 0 {
			t.Errorf("kinds %v: %d pieces never released", kinds, n)
		}
	}
}

func TestHashPiecesError(t *testing.T) {
	data := make([]byte, 3<<20)
	next, held := pieces(data, 1<<20)
	boom := errors.New("boom")
	calls := 0
	_, err := HashPieces(func() (Piece, error) {
		calls++
		if calls == 3 {
			return Piece{}, boom
		}
		return next()
	})
	if !errors.Is(err, boom) {
		t.Errorf("err = %v, want %v", err, boom)
	}
	if n := held(); n != 0 {
		t.Errorf("%d pieces never released", n)
	}
}
