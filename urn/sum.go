package urn

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"runtime/debug"
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
func (s Sums) Hashes() []Hash { return s.URNs([]Kind{BLAKE3, SHA256}) }

// URNs returns the urns of the given kinds, in their order: what an rtp:
// URL lists. No kinds means blake3 alone, the urn a client checks as the
// bytes arrive.
func (s Sums) URNs(kinds []Kind) []Hash {
	if len(kinds) == 0 {
		kinds = []Kind{BLAKE3}
	}
	hs := make([]Hash, 0, len(kinds))
	for _, k := range kinds {
		if k == SHA256 || k == BLAKE3 {
			hs = append(hs, New(k, s.Of(k)))
		}
	}
	return hs
}

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

func hashPipelined(r io.Reader, first *[]byte, progress func(int), b3 hash.Hash, kinds []Kind) (Sums, error) {
	pending := first
	next := func() (Piece, error) {
		buf, n := pending, chunkSize
		pending = nil
		if buf == nil {
			buf = chunkPool.Get().(*[]byte)
			var err error
			n, err = io.ReadFull(r, *buf)
			switch {
			case err == io.ErrUnexpectedEOF: // the short last chunk
			case err != nil: // io.EOF at the end, or a read error
				chunkPool.Put(buf)
				return Piece{}, err
			}
		}
		if progress != nil {
			progress(n)
		}
		return Piece{B: (*buf)[:n], Release: func() { chunkPool.Put(buf) }}, nil
	}
	return hashPieces(next, b3, kinds)
}

// A Piece is part of the input of HashPieces. Release, if not nil, is
// called once every hash function has read B.
type Piece struct {
	B       []byte
	Release func()
}

// HashPieces hashes, in order, the pieces next returns until it returns
// io.EOF, and returns their digests of the given kinds (both when none are
// given). Each function runs on its own goroutine, over the same pieces.
// With SHA256 alone, a memory fault while a piece is read (part of a
// mapped file that was truncated under it) is returned as an error rather
// than a crash; lukechampine.com/blake3 hashes large writes on goroutines
// of its own, where a fault can't be caught, so BLAKE3 must not be given
// memory that may fault.
func HashPieces(next func() (Piece, error), kinds ...Kind) (Sums, error) {
	if len(kinds) == 0 {
		kinds = Kinds
	}
	return hashPieces(next, nil, kinds)
}

// shared is a piece handed to several hash functions: the last to finish
// with it releases it.
type shared struct {
	Piece
	refs *atomic.Int32
}

func (c shared) release() {
	if c.refs.Add(-1) == 0 && c.Release != nil {
		c.Release()
	}
}

func hashPieces(next func() (Piece, error), b3 hash.Hash, kinds []Kind) (Sums, error) {
	var sums Sums
	var wg sync.WaitGroup
	chans := make([]chan shared, len(kinds))
	faults := make([]error, len(kinds))
	for i, k := range kinds {
		chans[i] = make(chan shared, 4)
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := newHash(k, b3)
			faults[i] = hashAll(h, chans[i])
			h.Sum(sums.of(k)[:0])
		}()
	}
	var err error
	for {
		var p Piece
		p, err = next()
		if err != nil {
			break
		}
		c := shared{p, new(atomic.Int32)}
		c.refs.Store(int32(len(chans)))
		for _, ch := range chans {
			ch <- c
		}
		sums.N += int64(len(p.B))
	}
	for _, ch := range chans {
		close(ch)
	}
	wg.Wait()
	if err == io.EOF {
		err = errors.Join(faults...)
	}
	if err != nil {
		return Sums{}, err
	}
	return sums, nil
}

// hashAll writes every piece from ch to h and releases it. After a memory
// fault it only releases what it is given, and returns the fault.
func hashAll(h hash.Hash, ch <-chan shared) error {
	debug.SetPanicOnFault(true)
	var err error
	for c := range ch {
		if err == nil {
			err = write(h, c.B)
		}
		c.release()
	}
	return err
}

// write writes b to h, and returns a memory fault while reading b as an
// error (see HashPieces).
func write(h hash.Hash, b []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(interface{ Addr() uintptr })
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("urn: memory fault at %#x while hashing: %v", f.Addr(), r)
		}
	}()
	h.Write(b)
	return nil
}
