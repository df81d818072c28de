package urn

import "errors"

var (
	// ErrUnsupported is returned for a URI that is not a urn of a kind this
	// package knows. RTP/1 answers it with "unsupported scheme".
	ErrUnsupported = errors.New("unsupported scheme")
	// ErrMalformed is returned for a urn of a known kind whose value is not
	// 64 hex digits. RTP/1 answers it with "error: malformed urn".
	ErrMalformed = errors.New("malformed urn")
)
