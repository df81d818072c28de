package client

import (
	"errors"
	"io/fs"

	"github.com/rtp-project/rtp/wire"
)

var (
	// ErrProtocol means the server broke RTP/1; the session is closed.
	ErrProtocol = errors.New("rtp: protocol violation by server")
	// ErrClosed means the session is closed.
	ErrClosed = errors.New("rtp: session closed")
)

// IsPermanent reports whether err means the server will not give these bytes
// however often it is asked: not found, unsupported scheme, a malformed urn,
// or a protocol violation. Anything else (timeouts, resets, a changed file
// the server is rehashing) may succeed on a retry.
func IsPermanent(err error) bool {
	var we *wire.Error
	if errors.As(err, &we) {
		return we.Kind == wire.KindNotFound || we.Kind == wire.KindUnsupportedScheme || errors.Is(we, wire.ErrMalformedURN)
	}
	return errors.Is(err, ErrProtocol) || errors.Is(err, fs.ErrNotExist)
}
