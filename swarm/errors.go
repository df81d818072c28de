package swarm

import "errors"

var (
	// ErrMismatch means the bytes do not match the URL's hashes and no set of
	// servers could repair them.
	ErrMismatch = errors.New("downloaded bytes do not match the URL's hash")
	// ErrNoServers means no server is left that can give the missing bytes.
	ErrNoServers = errors.New("no server can give the missing bytes")
	// ErrStall means a session received nothing for the stall timeout.
	ErrStall = errors.New("stalled")
	// errShort means a server ended the resource before the known length.
	errShort = errors.New("server's copy is shorter than the URL's length")
)
