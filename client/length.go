package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rtp-project/rtp/wire"
)

// ErrTooLarge means a server answers READs of one byte at offset 2^61:
// it claims a resource of more than 2^61 bytes, which ProbeLength does not
// believe.
var ErrTooLarge = errors.New("rtp: server reports a resource larger than 2^61 bytes")

// ProbeLength finds the length of the resource open as tok, for a client
// that was not told it (an rtp: URL without l=). RTP/1 has no request for
// it, but a READ of one byte is empty exactly when its offset is at or past
// the end, so ProbeLength doubles an offset until such a READ comes back
// empty, eight offsets to a round trip, then narrows the gap with three
// READs to a round trip: about 20 round trips for a gigabyte.
//
// Each round trip must end within wait (zero means no limit but ctx's).
// One that does not, ctx still running, fails with an error wrapping
// context.DeadlineExceeded; its READs are still in flight, and a caller
// should close a session whose server does not answer. A READ that fails
// fails the probe with its error (a *wire.Error when the server answered
// ERROR).
//
// The length is the server's word: a client checks it against the bytes,
// as a hash of the whole, or a BLAKE3 tree (outboard), which commits to it.
func (s *Session) ProbeLength(ctx context.Context, tok wire.Token, wait time.Duration) (int64, error) {
	// beyond reports, for each offset, whether it is at or past the end.
	beyond := func(offs []uint64) ([]bool, error) {
		rctx, cancel := ctx, context.CancelFunc(func() {})
		if wait > 0 {
			rctx, cancel = context.WithTimeout(ctx, wait)
		}
		defer cancel()
		calls := make([]*Call, len(offs))
		for i, o := range offs {
			calls[i] = s.StartRead(tok, o, 1, discard{})
		}
		out := make([]bool, len(offs))
		for i, c := range calls {
			if err := c.Wait(rctx); err != nil {
				if ctx.Err() == nil && errors.Is(rctx.Err(), context.DeadlineExceeded) {
					return nil, fmt.Errorf("probing the length: no answer within %v: %w", wait, context.DeadlineExceeded)
				}
				return nil, err
			}
			out[i] = c.N == 0
		}
		return out, nil
	}
	// lo < size <= hi, with lo = -1 meaning nothing is known below.
	lo, hi := int64(-1), int64(-1)
	// Offsets 0, 1, 2, 4, ..., 2^61 in rounds of eight.
	exp := []uint64{0}
	for j := 0; j < 62; j++ {
		exp = append(exp, 1<<j)
	}
	for i := 0; i < len(exp) && hi < 0; i += 8 {
		round := exp[i:min(i+8, len(exp))]
		res, err := beyond(round)
		if err != nil {
			return 0, err
		}
		for j, past := range res {
			if past {
				hi = int64(round[j])
				break
			}
			lo = int64(round[j])
		}
	}
	if hi < 0 {
		return 0, ErrTooLarge
	}
	for hi-lo > 1 {
		step := max((hi-lo)/4, 1)
		var offs []uint64
		for o := lo + step; o < hi && len(offs) < 3; o += step {
			offs = append(offs, uint64(o))
		}
		res, err := beyond(offs)
		if err != nil {
			return 0, err
		}
		for j, past := range res {
			if past {
				hi = int64(offs[j])
				break
			}
			lo = int64(offs[j])
		}
	}
	return hi, nil
}

// discard takes a READ's payload and drops it.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
