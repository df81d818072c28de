package swarm

import (
	"context"
	"errors"
	"fmt"

	"github.com/rtp-project/rtp/client"
	"github.com/rtp-project/rtp/wire"
)

// connect starts a session with p and opens the URL's resource, waiting
// for the answer (a session that fetches sends its READs behind the OPEN
// instead: dialOpen). Each step that waits on the server, the dial with
// its TLS or QUIC handshake and then each OPEN, must end within the stall
// timeout, and all of it ends at once with ctx: a server that accepts and
// never answers costs a stall, never a hang.
func (d *Download) connect(ctx context.Context, p *peer) (*client.Session, wire.Token, error) {
	s, open, err := d.dialOpen(ctx, p)
	if err != nil {
		return nil, wire.Token{}, err
	}
	octx, cancel := context.WithTimeout(ctx, d.cfg.Stall)
	err = open.Wait(octx)
	cancel()
	tok := open.Token
	if err != nil {
		tok, err = d.reopen(ctx, s, d.stalled(ctx, octx, "OPEN", err))
	}
	if err != nil {
		s.Close()
		return nil, tok, err
	}
	return s, tok, nil
}

// dialOpen starts a session with p and sends the OPEN of the URL's first
// hash without waiting for its answer: READs may follow an OPEN before its
// answer, which saves a round trip per session, 0.3 s on a 300 ms path.
// The session waits for open (the OPEN's call) before it trusts a READ's
// error, and calls reopen if it failed. The dial must end within the stall
// timeout, and ends at once with ctx.
func (d *Download) dialOpen(ctx context.Context, p *peer) (*client.Session, *client.Call, error) {
	dctx, cancel := context.WithTimeout(ctx, d.cfg.Stall)
	s, err := d.dialFn(dctx, p.dial)
	cancel()
	if err != nil {
		return nil, nil, d.stalled(ctx, dctx, "connecting", err)
	}
	return s, s.StartOpen(d.cfg.URL.Hashes[0].String()), nil
}

// reopen opens the URL's other hashes in the session, one after the other,
// once the OPEN dialOpen sent failed with err: a server may know a file by
// one of its hashes only.
func (d *Download) reopen(ctx context.Context, s *client.Session, err error) (wire.Token, error) {
	var tok wire.Token
	if !client.IsPermanent(err) {
		return tok, err
	}
	for _, h := range d.cfg.URL.Hashes[1:] {
		octx, cancel := context.WithTimeout(ctx, d.cfg.Stall)
		t, err1 := s.Open(octx, h.String())
		cancel()
		if err1 == nil {
			return t, nil
		}
		err = d.stalled(ctx, octx, "OPEN", err1)
		if !client.IsPermanent(err1) {
			break
		}
	}
	return tok, err
}

// stalled names a step that ran out of its stall timeout (step's deadline
// passed while ctx still runs) as an ErrStall; other errors pass unchanged.
func (d *Download) stalled(ctx, step context.Context, what string, err error) error {
	if ctx.Err() == nil && errors.Is(step.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: %s: no answer within %v (%v)", ErrStall, what, d.cfg.Stall, err)
	}
	return err
}
