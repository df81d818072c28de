package swarm

import (
	"context"
	"errors"
	"fmt"

	"github.com/rtp-project/rtp/client"
	"github.com/rtp-project/rtp/wire"
)

// connect starts a session with p and opens the URL's resource. Each step
// that waits on the server, the dial with its TLS or QUIC handshake and then
// the OPEN, must end within the stall timeout, and all of it ends at once
// with ctx: a server that accepts and never answers costs a stall, never a
// hang.
func (d *Download) connect(ctx context.Context, p *peer) (*client.Session, wire.Token, error) {
	var tok wire.Token
	dctx, cancel := context.WithTimeout(ctx, d.cfg.Stall)
	s, err := d.dialFn(dctx, p.dial)
	cancel()
	if err != nil {
		return nil, tok, d.stalled(ctx, dctx, "connecting", err)
	}
	octx, cancel := context.WithTimeout(ctx, d.cfg.Stall)
	tok, err = d.openAny(octx, s)
	cancel()
	if err != nil {
		s.Close()
		return nil, tok, d.stalled(ctx, octx, "OPEN", err)
	}
	return s, tok, nil
}

// stalled names a step that ran out of its stall timeout (step's deadline
// passed while ctx still runs) as an ErrStall; other errors pass unchanged.
func (d *Download) stalled(ctx, step context.Context, what string, err error) error {
	if ctx.Err() == nil && errors.Is(step.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: %s: no answer within %v (%v)", ErrStall, what, d.cfg.Stall, err)
	}
	return err
}
