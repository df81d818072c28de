package swarm

import (
	"context"
	"errors"
	"fmt"
)

// probe finds the resource's length from the first server that opens it
// and answers client.ProbeLength, each round trip of which must end within
// the stall timeout.
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
	n, err := s.ProbeLength(ctx, tok, d.cfg.Stall)
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return 0, fmt.Errorf("%w: %w", ErrStall, err)
	}
	return n, err
}
