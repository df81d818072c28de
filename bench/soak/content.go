package main

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"hash"
)

// chunk is the largest single write, and the spacing of the hash snapshots
// a lineage keeps.
const chunk = 1 << 20

// A file's content is always a prefix of a keystream named by a seed: AES-CTR
// over zeros. Appends continue the stream, truncations cut it, an overwrite
// starts a new seed. So the sha256 of every state a file passes through is
// known before the bytes are written, and any prefix can be made again.
type stream struct{ block cipher.Block }

func newStream(seed [16]byte) stream {
	b, err := aes.NewCipher(seed[:])
	if err != nil {
		panic(err) // a 16-byte key never fails
	}
	return stream{b}
}

// at fills p with the stream's bytes from offset off.
func (s stream) at(p []byte, off int64) {
	var iv [aes.BlockSize]byte
	binary.BigEndian.PutUint64(iv[8:], uint64(off/aes.BlockSize))
	ctr := cipher.NewCTR(s.block, iv[:])
	if skip := off % aes.BlockSize; skip > 0 {
		var tmp [aes.BlockSize]byte
		ctr.XORKeyStream(tmp[:skip], tmp[:skip])
	}
	clear(p)
	ctr.XORKeyStream(p, p)
}

// prefixSum is the sha256 of the stream's first n bytes.
func prefixSum(seed [16]byte, n int64) [32]byte {
	s := newStream(seed)
	h := sha256.New()
	buf := make([]byte, chunk)
	for off := int64(0); off < n; off += chunk {
		p := buf[:min(chunk, n-off)]
		s.at(p, off)
		h.Write(p)
	}
	return [32]byte(h.Sum(nil))
}

// lineage is a file's content as the writer knows it: a seed and a length,
// with the running sha256 and snapshots of it at every multiple of chunk,
// so that a truncation costs at most one chunk of hashing.
type lineage struct {
	seed  [16]byte
	s     stream
	size  int64
	h     hash.Hash
	snaps [][]byte // snaps[k]: the state of h after k*chunk bytes
}

func newLineage(seed [16]byte) *lineage {
	l := &lineage{seed: seed, s: newStream(seed), h: sha256.New()}
	l.snaps = [][]byte{l.snapshot()}
	return l
}

func (l *lineage) snapshot() []byte {
	b, err := l.h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		panic(err) // sha256 always marshals
	}
	return b
}

func (l *lineage) sum() [32]byte { return [32]byte(l.h.Sum(nil)) }

// next returns the stream's next bytes, at most n and never past the next
// multiple of chunk, in buf (len(buf) >= chunk), and the sha256 of the
// content once they are written. The lineage counts them as written.
func (l *lineage) next(buf []byte, n int64) ([]byte, [32]byte) {
	room := chunk - l.size%chunk
	p := buf[:min(n, room)]
	l.s.at(p, l.size)
	l.h.Write(p)
	l.size += int64(len(p))
	if l.size%chunk == 0 {
		l.snaps = append(l.snaps, l.snapshot())
	}
	return p, l.sum()
}

// truncate cuts the content to n <= size bytes and returns its sha256.
func (l *lineage) truncate(n int64) [32]byte {
	k := n / chunk
	h := sha256.New()
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(l.snaps[k]); err != nil {
		panic(err)
	}
	l.h, l.snaps = h, l.snaps[:k+1]
	if rest := n - k*chunk; rest > 0 {
		p := make([]byte, rest)
		l.s.at(p, k*chunk)
		l.h.Write(p)
	}
	l.size = n
	return l.sum()
}
