package outboard

import (
	"errors"
	"fmt"
	"io"
)

// ErrPastRange means more bytes were written to a Verifier than its range
// holds.
var ErrPastRange = errors.New("outboard: bytes past the end of the range")

// Verifier checks the bytes of one range of a resource against the
// resource's tree as they arrive, in order and in pieces of any size (the
// payloads of the READs that fetch the range), and writes on to its sink
// only whole groups that match: the sink never gets a byte the tree does
// not vouch for. The bytes of a group not yet complete wait inside it, at
// most GroupSize of them.
//
// A group that does not match fails the Write with a *CorruptError (it
// matches ErrCorrupt); since NewTree checked the tree against the root,
// that is proof the bytes' sender lied. The groups before it went to the
// sink; after any error, every Write fails with the same error and the
// sink gets nothing more.
//
// A Verifier is not safe for concurrent use; one is meant for one range
// fetched in order, by one READ after another.
type Verifier struct {
	tree  *Tree
	start int64 // the range's start
	off   int64 // where buf starts: a group boundary; bytes before it passed
	end   int64 // the range's end
	buf   []byte
	sink  io.Writer
	err   error
}

// NewVerifier returns a Verifier of the bytes [off, end) of t's resource,
// which writes them on to sink. off and end must each be a multiple of
// GroupSize or the resource's length, and 0 <= off <= end <= t.Len(): a
// Verifier checks whole groups only.
func NewVerifier(t *Tree, off, end int64, sink io.Writer) (*Verifier, error) {
	switch {
	case off < 0 || off > end || end > t.Len():
		return nil, fmt.Errorf("outboard: range [%d, %d) is not within the %d-byte resource", off, end, t.Len())
	case off%GroupSize != 0 && off != t.Len():
		return nil, fmt.Errorf("outboard: range starts at %d, not a group boundary", off)
	case end%GroupSize != 0 && end != t.Len():
		return nil, fmt.Errorf("outboard: range ends at %d, neither a group boundary nor the end", end)
	}
	return &Verifier{tree: t, start: off, off: off, end: end, sink: sink}, nil
}

// Write checks p, the bytes that follow those written before, and writes
// on every group it completes once that group matches. It returns len(p)
// when every byte of p was taken (passed on, or held for a group still
// incomplete). Bytes beyond the range fail with ErrPastRange, and none of
// p is taken.
func (v *Verifier) Write(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	if int64(len(p)) > v.Remaining()-int64(len(v.buf)) {
		v.err = fmt.Errorf("%w: %d bytes, %d left of [%d, %d)", ErrPastRange, len(p), v.Remaining()-int64(len(v.buf)), v.start, v.end)
		return 0, v.err
	}
	n := len(p)
	for len(p) > 0 {
		g := int(min(GroupSize, v.end-v.off))
		if len(v.buf) == 0 && len(p) >= g {
			// Whole groups straight from p.
			k := int(min(int64(len(p)), v.end-v.off))
			if int64(k) < v.end-v.off {
				k -= k % GroupSize
			}
			if err := v.pass(p[:k]); err != nil {
				return 0, err
			}
			p = p[k:]
			continue
		}
		if v.buf == nil {
			v.buf = make([]byte, 0, GroupSize)
		}
		k := min(g-len(v.buf), len(p))
		v.buf = append(v.buf, p[:k]...)
		p = p[k:]
		if len(v.buf) == g {
			if err := v.pass(v.buf); err != nil {
				return 0, err
			}
			v.buf = v.buf[:0]
		}
	}
	return n, nil
}

// pass checks q, whole groups at v.off, and writes on those before the
// first that does not match.
func (v *Verifier) pass(q []byte) error {
	err := v.tree.Check(v.off, q)
	var ce *CorruptError
	switch {
	case err == nil:
	case errors.As(err, &ce) && ce.Off > v.off:
		// Check goes in order: the groups before ce.Off matched.
		q = q[:ce.Off-v.off]
	default:
		v.err = err
		return err
	}
	if _, werr := v.sink.Write(q); werr != nil {
		v.err = werr
		return werr
	}
	v.off += int64(len(q))
	if err != nil {
		v.err = err
	}
	return err
}

// Verified returns how many bytes of the range matched and went to the
// sink.
func (v *Verifier) Verified() int64 { return v.off - v.start }

// Remaining returns how many bytes of the range have not gone to the sink,
// those held for an incomplete group included.
func (v *Verifier) Remaining() int64 { return v.end - v.off }

// Done reports whether every byte of the range matched and went to the
// sink.
func (v *Verifier) Done() bool { return v.off == v.end }

// Err returns the error that stopped the Verifier, or nil.
func (v *Verifier) Err() error { return v.err }
