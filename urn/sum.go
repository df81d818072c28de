package urn

import (
	"crypto/sha256"
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

// HashReader reads r to its end once and returns its sha256 and blake3. When
// the input is larger than one chunk, the two functions run on separate
// goroutines over the same buffers, so one file keeps two cores busy.
// progress, if not nil, is called with the byte count of every chunk read.
func HashReader(r io.Reader, progress func(int)) (Sums, error) {
	first := chunkPool.Get().(*[]byte)
	n, err := io.ReadFull(r, *first)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		// Small input: hash inline.
		defer chunkPool.Put(first)
		if progress != nil {
			progress(n)
		}
		return Sums{SHA256: sha256.Sum256((*first)[:n]), BLAKE3: blake3.Sum256((*first)[:n]), N: int64(n)}, nil
	}
	if err != nil {
		chunkPool.Put(first)
		return Sums{}, err
	}
	return hashPipelined(r, first, progress)
}

// chunk is a buffer shared by the two hashers; the second to finish with it
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

func hashPipelined(r io.Reader, first *[]byte, progress func(int)) (Sums, error) {
	toSHA := make(chan chunk, 4)
	toB3 := make(chan chunk, 4)
	var sums Sums
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		h := sha256.New()
		for c := range toSHA {
			h.Write((*c.buf)[:c.n])
			c.release()
		}
		h.Sum(sums.SHA256[:0])
	}()
	go func() {
		defer wg.Done()
		h := blake3.New(32, nil)
		for c := range toB3 {
			h.Write((*c.buf)[:c.n])
			c.release()
		}
		h.Sum(sums.BLAKE3[:0])
	}()
	send := func(buf *[]byte, n int) {
		c := chunk{buf, n, new(atomic.Int32)}
		c.refs.Store(2)
		toSHA <- c
		toB3 <- c
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
	close(toSHA)
	close(toB3)
	wg.Wait()
	if err != nil {
		return Sums{}, err
	}
	return sums, nil
}
