package swarm

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/rtp-project/rtp/client"
	"github.com/rtp-project/rtp/outboard"
	"github.com/rtp-project/rtp/urn"
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
	if h, ok := d.urnBLAKE3(); ok && !d.cfg.NoTree {
		if n, err := d.treeLength(ctx, s, h); err == nil {
			return n, nil
		}
	}
	n, err := s.ProbeLength(ctx, tok, d.cfg.Stall)
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return 0, fmt.Errorf("%w: %w", ErrStall, err)
	}
	return n, err
}

// treeLength reads the length that the server's BLAKE3 tree of h starts
// with: one round trip, where ProbeLength takes about 20, and no byte of
// the resource is read, which matters to a server that does not have them
// all yet (an edge filling it answers a READ only once it holds its bytes).
// The length is the server's word, as ProbeLength's is: the tree fetched
// next and every byte are checked against it.
func (d *Download) treeLength(ctx context.Context, s *client.Session, h urn.Hash) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Stall)
	defer cancel()
	open := s.StartOpen(outboard.URI(h))
	w := &fill{p: make([]byte, 8)}
	rd := s.StartRead(open.Token, 0, 8, w)
	if err := open.Wait(ctx); err != nil {
		return 0, err
	}
	if err := rd.Wait(ctx); err != nil {
		return 0, err
	}
	n := int64(binary.LittleEndian.Uint64(w.p))
	if w.n != 8 || n < 0 || n > 1<<61 {
		return 0, errTreeLength
	}
	return n, nil
}
