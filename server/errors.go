package server

import "github.com/rtp-project/rtp/wire"

// ErrUnavailable answers an OPEN or READ that the store could not serve
// now but may later (store.Retryable: its backend is down or timed out).
// RTP/1 has no error kind for "try again later": this is the generic
// "error" kind, which clients of this project retry, with a fixed text a
// client can match to tell it from a failure that will recur.
var ErrUnavailable = &wire.Error{Kind: wire.KindError, Text: "temporarily unavailable"}

// Other answers to store failures.
var (
	// errChangedWire answers a READ of a blob whose bytes changed since
	// they were hashed (store.ErrChanged), or that is gone.
	errChangedWire = &wire.Error{Kind: wire.KindNotFound, Text: "file changed since it was hashed"}
	// errCanceled answers what was under way when the session ended.
	errCanceled   = &wire.Error{Kind: wire.KindError, Text: "canceled"}
	errCannotOpen = &wire.Error{Kind: wire.KindError, Text: "cannot open"}
	errReadFailed = &wire.Error{Kind: wire.KindError, Text: "read failed"}
)
