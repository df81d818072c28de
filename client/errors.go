package client

import (
	"crypto/tls"
	"errors"
	"io/fs"

	"github.com/rtp-project/rtp/wire"
)

var (
	// ErrProtocol means the server broke RTP/1; the session is closed.
	ErrProtocol = errors.New("rtp: protocol violation by server")
	// ErrClosed means the session is closed.
	ErrClosed = errors.New("rtp: session closed")
	// ErrNotPinned means a server's certificate is not one of Options.Pins.
	ErrNotPinned = errors.New("tls: certificate not pinned")
)

// IsPermanent reports whether err means the server will not give these bytes
// however often it is asked: not found, unsupported scheme, a malformed urn,
// a protocol violation, or a certificate that does not verify. Anything else (timeouts, resets, a changed file
// the server is rehashing) may succeed on a retry.
func IsPermanent(err error) bool {
	var we *wire.Error
	if errors.As(err, &we) {
		return we.Kind == wire.KindNotFound || we.Kind == wire.KindUnsupportedScheme || errors.Is(we, wire.ErrMalformedURN)
	}
	return errors.Is(err, ErrProtocol) || errors.Is(err, fs.ErrNotExist) || IsCertificate(err)
}

// IsCertificate reports whether err means the server's certificate was
// refused: it does not verify, or it is not one of Options.Pins. That holds
// for every resource the server has, until the user trusts it.
func IsCertificate(err error) bool {
	var cv *tls.CertificateVerificationError
	return errors.Is(err, ErrNotPinned) || errors.As(err, &cv)
}
