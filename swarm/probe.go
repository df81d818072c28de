package swarm

import (
	"context"
	"errors"
	"fmt"

	"github.com/rtp-project/rtp/client"
)

// probe finds the resource's length from the first server that opens it. A
// READ of one byte is empty exactly when its offset is at or past the end,
// so it doubles an offset until a READ comes back empty, eight offsets per
// round trip, then narrows the gap with three READs per round trip.
func (d *Download) probe(ctx context.Context) (int64, error) {
	var errs []error
	for _, p := range d.peers {
		n, err := d.probeOne(ctx, p)
		if err == nil {
			return n, nil
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		errs = append(errs, fmt.Errorf("%s: %w", p.dial, err))
	}
	return 0, fmt.Errorf("%w: probing the length: %w", ErrNoServers, errors.Join(errs...))
}

func (d *Download) probeOne(ctx context.Context, p *peer) (int64, error) {
	s, tok, err := d.connect(ctx, p)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	// beyond reports, for each offset, whether it is at or past the end.
	// Each round trip must end within the stall timeout.
	beyond := func(offs []uint64) ([]bool, error) {
		rctx, cancel := context.WithTimeout(ctx, d.cfg.Stall)
		defer cancel()
		calls := make([]*client.Call, len(offs))
		for i, o := range offs {
			calls[i] = s.StartRead(tok, o, 1, discard{})
		}
		out := make([]bool, len(offs))
		for i, c := range calls {
			if err := c.Wait(rctx); err != nil {
				return nil, d.stalled(ctx, rctx, "probing the length", err)
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
		return 0, errors.New("server reports a resource larger than 2^61 bytes")
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

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
