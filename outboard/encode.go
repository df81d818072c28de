package outboard

import (
	"encoding/binary"
	"fmt"
	"io"

	"lukechampine.com/blake3/guts"
)

// Encoder computes the BLAKE3 hash of exactly n bytes written to it and
// writes their tree to dst on the way, holding only the open subtrees and
// the tree pages still being filled (a few per level) in memory. It is a
// hash.Hash whose Sum is the BLAKE3-256 digest; call Err after Sum to learn
// whether the tree was written whole. It is not safe for concurrent use and
// cannot be Reset.
type Encoder struct {
	n, written int64
	groups     int64 // in all
	hashed     int64 // groups hashed so far
	buf        [GroupSize]byte
	nbuf       int
	stack      []subtree // complete subtrees not yet joined, left to right
	w          pagedWriter
	root       [32]byte
	finished   bool
	err        error
}

type subtree struct {
	cv     [8]uint32
	lo, ng int64 // first group, and how many
}

// NewEncoder returns an Encoder for n bytes whose tree goes to dst, which
// must take Size(n) bytes at offsets 0 to Size(n). Writes to dst are in no
// particular order and each byte is written once. A negative n is an error
// that Err reports.
func NewEncoder(n int64, dst io.WriterAt) *Encoder {
	e := &Encoder{n: n, groups: Groups(n)}
	e.w = pagedWriter{dst: dst, size: Size(n), pages: make(map[int64]*page)}
	if n < 0 {
		e.err = fmt.Errorf("outboard: negative length %d announced", n)
	}
	return e
}

func (e *Encoder) Size() int      { return 32 }
func (e *Encoder) BlockSize() int { return 64 }
func (e *Encoder) Reset()         { panic("outboard: Encoder cannot be reset") }

// Err reports a length other than the one announced, or a failed write of
// the tree. It is final once Sum has been called. The bytes of a file that
// grew or shrank while it was hashed are such a length: the Encoder then
// writes no tree and Sum returns 32 zero bytes, never a panic.
func (e *Encoder) Err() error {
	if e.err != nil {
		return e.err
	}
	return e.w.err
}

// Write hashes p. It never fails; see Err.
func (e *Encoder) Write(p []byte) (int, error) {
	n := len(p)
	if e.err != nil || e.finished {
		return n, nil
	}
	if int64(n) > e.n-e.written {
		e.err = fmt.Errorf("outboard: more than the %d bytes announced", e.n)
		return n, nil
	}
	e.written += int64(n)
	// The last group waits for Sum: if it is the only one, it is the root.
	for len(p) > 0 {
		if k := min(int64(len(p)/GroupSize), e.groups-1-e.hashed, groupBatch); e.nbuf == 0 && k > 0 {
			// Whole groups straight from p, up to 16 at a time (see
			// groupCVs): none is the last, so none is the root.
			var cvs [groupBatch][8]uint32
			groupCVs(p[:k*GroupSize], e.hashed, cvs[:k])
			for _, cv := range cvs[:k] {
				e.add(cv)
			}
			p = p[k*GroupSize:]
			continue
		}
		k := copy(e.buf[e.nbuf:], p)
		e.nbuf += k
		p = p[k:]
		if e.nbuf == GroupSize && e.hashed < e.groups-1 {
			e.add(guts.ChainingValue(compressGroup(e.buf[:], e.hashed, nil)))
			e.nbuf = 0
		}
	}
	return n, nil
}

// add pushes the chaining value of the next group and joins equal
// subtrees, as BLAKE3 does: such a join is never the root, because the
// last group is still to come.
func (e *Encoder) add(cv [8]uint32) {
	e.stack = append(e.stack, subtree{cv: cv, lo: e.hashed, ng: 1})
	e.hashed++
	for k := len(e.stack); k >= 2 && e.stack[k-1].ng == e.stack[k-2].ng; k = len(e.stack) {
		e.join(0)
	}
}

// join replaces the top two subtrees by their parent and writes the
// parent's entry in the tree.
func (e *Encoder) join(flags uint32) {
	k := len(e.stack)
	l, r := e.stack[k-2], e.stack[k-1]
	var b [64]byte
	putCV(b[:32], l.cv)
	putCV(b[32:], r.cv)
	e.w.WriteAt(b[:], e.slot(l.lo, r.lo+r.ng))
	cv := guts.ChainingValue(guts.ParentNode(l.cv, r.cv, &guts.IV, flags))
	e.stack = append(e.stack[:k-2], subtree{cv: cv, lo: l.lo, ng: l.ng + r.ng})
}

// slot returns the offset in the tree of the entry of the parent covering
// groups [lo, hi): entries are in pre-order, so it counts the parents met
// on the way down from the root.
func (e *Encoder) slot(lo, hi int64) int64 {
	a, b, p := int64(0), e.groups, int64(0)
	for a != lo || b != hi {
		mid := a + leftGroups(b-a)
		if hi <= mid {
			p, b = p+1, mid
		} else {
			p, a = p+mid-a, mid
		}
	}
	return 8 + 64*p
}

// Sum appends the BLAKE3-256 digest of the bytes to b, finishing the tree
// on the first call. After a length other than the one announced (see Err)
// it appends 32 zero bytes.
func (e *Encoder) Sum(b []byte) []byte {
	if !e.finished {
		e.finish()
	}
	return append(b, e.root[:]...)
}

func (e *Encoder) finish() {
	e.finished = true
	if e.err == nil && e.written != e.n {
		e.err = fmt.Errorf("outboard: %d bytes written, %d announced", e.written, e.n)
	}
	if e.err != nil {
		// The groups hashed do not make the tree of n bytes: joining them
		// would ask slot for parents the tree has not got. Nothing more is
		// written; the root stays zero.
		return
	}
	n := compressGroup(e.buf[:e.nbuf], e.hashed, &e.buf)
	if e.groups == 1 {
		n.Flags |= guts.FlagRoot
		putCV(e.root[:], guts.ChainingValue(n))
	} else {
		e.stack = append(e.stack, subtree{cv: guts.ChainingValue(n), lo: e.hashed, ng: 1})
		e.hashed++
		for len(e.stack) > 1 {
			flags := uint32(0)
			if len(e.stack) == 2 {
				flags = guts.FlagRoot
			}
			e.join(flags)
		}
		putCV(e.root[:], e.stack[0].cv)
	}
	var hdr [8]byte
	binary.LittleEndian.PutUint64(hdr[:], uint64(e.n))
	e.w.WriteAt(hdr[:], 0)
	e.w.flush()
}

// pagedWriter gathers the tree's small, scattered writes into pages and
// writes each page once it is full. Entries are written as their subtrees
// complete, so only pages holding entries of unfinished subtrees stay open.
type pagedWriter struct {
	dst   io.WriterAt
	size  int64
	pages map[int64]*page
	free  []*page
	err   error
}

const pageSize = 64 << 10

type page struct {
	b      [pageSize]byte
	filled int
}

func (w *pagedWriter) pageLen(i int64) int { return int(min(pageSize, w.size-i*pageSize)) }

func (w *pagedWriter) WriteAt(p []byte, off int64) {
	if off < 0 || off+int64(len(p)) > w.size {
		if w.err == nil {
			w.err = fmt.Errorf("outboard: write at %d past the tree's %d bytes", off, w.size)
		}
		return
	}
	for len(p) > 0 {
		i, po := off/pageSize, int(off%pageSize)
		pg := w.pages[i]
		if pg == nil {
			if k := len(w.free); k > 0 {
				pg, w.free = w.free[k-1], w.free[:k-1]
				pg.filled = 0
			} else {
				pg = new(page)
			}
			w.pages[i] = pg
		}
		k := copy(pg.b[po:w.pageLen(i)], p)
		pg.filled += k
		p, off = p[k:], off+int64(k)
		if pg.filled == w.pageLen(i) {
			w.write(i, pg)
		}
	}
}

func (w *pagedWriter) write(i int64, pg *page) {
	if w.err == nil {
		_, w.err = w.dst.WriteAt(pg.b[:w.pageLen(i)], i*pageSize)
	}
	delete(w.pages, i)
	w.free = append(w.free, pg)
}

// flush writes the pages left; after a complete tree there are none.
func (w *pagedWriter) flush() {
	for i, pg := range w.pages {
		w.write(i, pg)
	}
}
