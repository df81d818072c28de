package wire

import (
	"errors"
	"strings"
)

// Decoding errors.
var (
	// ErrURITooLong means an OPEN declared a uri longer than the limit.
	// Nothing past the length field has been read.
	ErrURITooLong = errors.New("wire: uri too long")
	// ErrPayloadTooLong means a response declared a payload longer than the
	// reader allows. Nothing past the length field has been read.
	ErrPayloadTooLong = errors.New("wire: payload too long")
)

// Error kinds from the draft's Appendix A and wire-v1.md.
const (
	KindError             = "error"
	KindNotFound          = "not found"
	KindUnsupportedScheme = "unsupported scheme"
)

// Error is an RTP/1 error string: "kind" or "kind: human text".
// Two Errors match under errors.Is when their kinds are equal and the target's
// text is empty or equal to this one's, so errors.Is(err, ErrNotFound) holds
// for any "not found" answer.
type Error struct {
	Kind string
	Text string
}

// Errors servers send and clients match.
var (
	ErrNotFound          = &Error{Kind: KindNotFound}
	ErrUnsupportedScheme = &Error{Kind: KindUnsupportedScheme}
	ErrMalformedURN      = &Error{Kind: KindError, Text: "malformed urn"}
	ErrUnknownToken      = &Error{Kind: KindError, Text: "unknown open token"}
	ErrTokenInUse        = &Error{Kind: KindError, Text: "token in use"}
	ErrTooManyOpenTokens = &Error{Kind: KindError, Text: "too many open tokens"}
)

// ParseError splits an error payload into kind and text.
func ParseError(s string) *Error {
	kind, text, ok := strings.Cut(s, ":")
	if !ok {
		return &Error{Kind: s}
	}
	return &Error{Kind: kind, Text: strings.TrimPrefix(text, " ")}
}

func (e *Error) Error() string {
	if e.Text == "" {
		return e.Kind
	}
	return e.Kind + ": " + e.Text
}

// Is reports whether target is an *Error of the same kind whose text is empty
// or the same.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	return t.Kind == e.Kind && (t.Text == "" || t.Text == e.Text)
}
