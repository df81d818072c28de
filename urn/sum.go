package urn

import (
	"crypto/sha256"
	"hash"
	"io"
	"sync"
	"sync/atomic"

	"lukechampine.com/blake3"
)

// chunkSize is the read size while hashing. blake3 needs large writes to use
// its SIMD paths; 1 MiB is past the knee of its throughput curve.
const chunkSize = 1 << 20

var chunkPool = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

// Sums are the digests of one read pass.
type Sums struct {
	SHA256 [Size]byte
	BLAKE3 [Size]byte
	N      int64 // bytes read
}

// Hashes returns both urns, blake3 first.
func (s Sums) Hashes() []Hash { return []Hash{New(BLAKE3, s.BLAKE3), New(SHA256, s.SHA256)} }

// Of returns the sum of kind k.
func (s Sums) Of(k Kind) [Size]byte {
	if k == BLAKE3 {
		return s.BLAKE3
	}
	return s.SHA256
}

func (s *Sums) of(k Kind) *[Size]byte {
	if k == BLAKE3 {
		return &s.BLAKE3
	}
	return &s.SHA256
}

func newHash(k Kind, b3 hash.Hash) hash.Hash {
	switch {
	case k == BLAKE3 && b3 != nil:
		return b3
	case k == BLAKE3:
		return blake3.New(Size, nil)
	}
	return sha256.New()
}

// HashReader reads r to its end once and returns its digests of the given
// kinds (both when none are given; the others stay zero). When the input is
// larger than one chunk, each function runs on its own goroutine over the
// same buffers, so one file keeps two cores busy. progress, if not nil, is
// called with the byte count of every chunk read.
func HashReader(r io.Reader, progress func(int), kinds ...Kind) (Sums, error) {
	return HashReaderWith(r, progress, nil, kinds...)
}

// HashReaderWith is HashReader with the blake3 digest computed by b3, if
// not nil: a hash.Hash that computes BLAKE3-256 and does more on the way,
// such as building the tree (outboard.Encoder).
func HashReaderWith(r io.Reader, progress func(int), b3 hash.Hash, kinds ...Kind) (Sums, error) {
	if len(kinds) == 0 {
		kinds = Kinds
	}
	first := chunkPool.Get().(*[]byte)
	n, err := io.ReadFull(r, *first)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		// Small input: hash inline.
		defer chunkPool.Put(first)
		if progress != nil {
			progress(n)
		}
		s := Sums{N: int64(n)}
		for _, k := range kinds {
			h := newHash(k, b3)
			h.Write((*first)[:n])
			h.Sum(s.of(k)[:0])
		}
		return s, nil
	}
	if err != nil {
		chunkPool.Put(first)
		return Sums{}, err
	}
	return hashPipelined(r, first, progress, b3, kinds)
}

// chunk is a buffer shared by the hashers; the last to finish with it
// returns it to the pool.
type chunk struct {
	buf  *[]byte
	n    int
	refs *atomic.Int32
}

func (c chunk) release() {
	if c.refs.Add(-1) == 0 {
		chunkPool.Put(c.buf)
	}
}

func hashPipelined(r io.Reader, first *[]byte, progress func(int), b3 hash.Hash, kinds []Kind) (Sums, error) {
	var sums Sums
	var wg sync.WaitGroup
	chans := make([]chan chunk, len(kinds))
	for i, k := range kinds {
		chans[i] = make(chan chunk, 4)
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := newHash(k, b3)
			for c := range chans[i] {
				h.Write((*c.buf)[:c.n])
				c.release()
			}
			h.Sum(sums.of(k)[:0])
		}()
	}
	send := func(buf *[]byte, n int) {
		c := chunk{buf, n, new(atomic.Int32)}
		c.refs.Store(int32(len(chans)))
		for _, ch := range chans {
			ch <- c
		}
		sums.N += int64(n)
		if progress != nil {
			progress(n)
		}
	}
	send(first, chunkSize)
	var err error
	for {
		buf := chunkPool.Get().(*[]byte)
		var n int
		n, err = io.ReadFull(r, *buf)
		if n > 0 {
			send(buf, n)
		} else {
			chunkPool.Put(buf)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			err = nil
			break
		}
		if err != nil {
			break
		}
	}
	for _, ch := range chans {
		close(ch)
	}
	wg.Wait()
	if err != nil {
		return Sums{}, err
	}
	return sums, nil
}
