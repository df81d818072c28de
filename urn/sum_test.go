package urn

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"lukechampine.com/blake3"
)

func TestHashReader(t *testing.T) {
	for _, n := range []int{0, 1, chunkSize - 1, chunkSize, chunkSize + 1, 3*chunkSize + 17} {
		data := make([]byte, n)
		rand.Read(data)
		s, err := HashReader(bytes.NewReader(data), nil)
		if err != nil {
			t.Fatal(err)
		}
		if s.SHA256 != sha256.Sum256(data) || s.BLAKE3 != blake3.Sum256(data) || s.N != int64(n) {
			t.Errorf("HashReader of %d bytes: wrong sums or count %d", n, s.N)
		}
	}
}

func TestHashReaderKinds(t *testing.T) {
	data := make([]byte, 3*chunkSize+1)
	rand.Read(data)
	s, err := HashReader(bytes.NewReader(data), nil, BLAKE3)
	if err != nil {
		t.Fatal(err)
	}
	if s.BLAKE3 != blake3.Sum256(data) || s.SHA256 != ([32]byte{}) {
		t.Errorf("blake3 only: wrong sums")
	}
}
