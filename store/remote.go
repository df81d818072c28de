package store

import (
	"context"
	"net"
)

type remoteKey struct{}

// WithRemote returns ctx carrying addr, the peer on whose behalf the store
// calls made with it are made: the server puts the session's remote
// address in the context it passes to Open and OpenTree. A store that
// fetches what it lacks from elsewhere (an edge) uses it to tell a
// sibling's request from a client's.
func WithRemote(ctx context.Context, addr net.Addr) context.Context {
	return context.WithValue(ctx, remoteKey{}, addr)
}

// Remote returns the address WithRemote put in ctx, or nil.
func Remote(ctx context.Context) net.Addr {
	a, _ := ctx.Value(remoteKey{}).(net.Addr)
	return a
}
