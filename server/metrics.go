package server

import (
	"time"

	"github.com/rtp-project/rtp/wire"
)

// Metrics receives counts of what a server does, for monitoring (package
// web/metrics exports them to Prometheus). Its methods are called from many
// goroutines, the READ ones once per READ: they must be safe for concurrent
// use, cheap (an atomic add, not a lock) and must never block. Nil
// Config.Metrics means none are counted.
type Metrics interface {
	// SessionStarted and SessionEnded bracket every session served, by
	// transport: rtpurl.TCP, TLS or QUIC (one per QUIC stream).
	SessionStarted(transport string)
	SessionEnded(transport string)
	// SessionRejected counts a connection or QUIC stream refused before it
	// became a session, with one of the Reject reasons.
	SessionRejected(reason string)
	// Opened counts an OPEN answered, with one of the Open results.
	Opened(result string)
	// ReadStarted counts a READ taken on with a payload to send: it is in
	// flight until its ReadDone.
	ReadStarted()
	// ReadDone ends a READ taken on by ReadStarted.
	ReadDone(r ReadStat)
	// ReadAnswered counts a READ answered at once, without a payload: empty
	// (offset past the end or length 0), or an error (its OPEN failed or
	// was never made).
	ReadAnswered(empty bool)
}

// Reasons a connection is refused, for Metrics.SessionRejected.
const (
	RejectMaxSessions = "max_sessions"          // Config.MaxSessions reached
	RejectMaxPerHost  = "max_sessions_per_host" // Config.MaxSessionsPerHost reached
	RejectHandshake   = "tls_handshake"         // a TLS handshake failed or timed out
	RejectShutdown    = "shutting_down"         // arrived during Shutdown
)

// Results of an OPEN, for Metrics.Opened.
const (
	OpenOK                = "ok"
	OpenNotFound          = "not_found"
	OpenUnsupportedScheme = "unsupported_scheme"
	OpenMalformedURN      = "malformed_urn"
	OpenTokenInUse        = "token_in_use"
	OpenTooManyTokens     = "too_many_open_tokens"
	OpenError             = "error" // the store failed to open a blob it holds
)

// ReadStat describes a READ that had a payload to send.
type ReadStat struct {
	// Tree is set when the READ was of a BLAKE3 tree (an outboard: URI), not
	// of a blob.
	Tree bool
	// Bytes is the payload sent: the whole of it, or 0 when the READ failed.
	Bytes int64
	// Elapsed runs from reading the request to writing the payload's last
	// byte, waits for a free READ slot and for the session's write side
	// included.
	Elapsed time.Duration
	// Failed is set when the payload was not sent: the file changed or
	// could not be read (the READ got an ERROR, or the session ended), or
	// the peer stopped reading.
	Failed bool
}

// nopMetrics counts nothing, so the server calls Metrics unconditionally.
type nopMetrics struct{}

func (nopMetrics) SessionStarted(string)  {}
func (nopMetrics) SessionEnded(string)    {}
func (nopMetrics) SessionRejected(string) {}
func (nopMetrics) Opened(string)          {}
func (nopMetrics) ReadStarted()           {}
func (nopMetrics) ReadDone(ReadStat)      {}
func (nopMetrics) ReadAnswered(bool)      {}

// openResult names the OPEN error e for Metrics.Opened.
func openResult(e *wire.Error) string {
	switch e {
	case wire.ErrNotFound:
		return OpenNotFound
	case wire.ErrUnsupportedScheme:
		return OpenUnsupportedScheme
	case wire.ErrMalformedURN:
		return OpenMalformedURN
	case wire.ErrTokenInUse:
		return OpenTokenInUse
	case wire.ErrTooManyOpenTokens:
		return OpenTooManyTokens
	}
	return OpenError
}
