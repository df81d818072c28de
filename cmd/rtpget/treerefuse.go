package main

import (
	"context"
	"log/slog"
	"sync"

	"github.com/rtp-project/rtp/client"
	"github.com/rtp-project/rtp/rtpurl"
)

// refusals dials a tree's servers for its lanes and for the swarms of its
// big files, and remembers those whose certificate was refused. That holds
// for every file of the tree, so such a server is dialed no more, no swarm
// started after it is given it, and the user is told once, not once per
// file and session.
type refusals struct {
	opts client.Options
	log  *slog.Logger

	mu sync.Mutex
	m  map[rtpurl.Dial]error
}

func (r *refusals) dial(ctx context.Context, d rtpurl.Dial) (*client.Session, error) {
	r.mu.Lock()
	err := r.m[d]
	r.mu.Unlock()
	if err != nil {
		return nil, err
	}
	s, err := client.Dial(ctx, d, &r.opts)
	if err != nil && client.IsCertificate(err) {
		r.mu.Lock()
		first := r.m[d] == nil
		if r.m == nil {
			r.m = make(map[rtpurl.Dial]error)
		}
		r.m[d] = err
		r.mu.Unlock()
		if first {
			r.log.Warn("not using this server for the tree: its certificate was refused (-k, --pin or --ca accept it)", "server", d.String(), "err", err)
		}
	}
	return s, err
}

// servers returns those of all whose certificate was not refused, or all
// when every one was, so that a swarm fails with the reason.
func (r *refusals) servers(all []rtpurl.Dial) []rtpurl.Dial {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ok []rtpurl.Dial
	for _, d := range all {
		if r.m[d] == nil {
			ok = append(ok, d)
		}
	}
	if len(ok) == 0 {
		return all
	}
	return ok
}
