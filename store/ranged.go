package store

import (
	"context"
	"io"
)

// RangeReader is an optional ability of a Blob whose reads cost a round
// trip each, such as an object in S3: one call reads a whole range, so the
// server makes one request to the backend per READ however it buffers the
// bytes it sends. Blobs of local files need not implement it: ReadAt is as
// cheap, and the server falls back to it.
//
// The model is restic's Backend.Load(ctx, h, length, offset, fn).
type RangeReader interface {
	// ReadRange calls fn once with a reader of the n bytes of the blob at
	// off, 0 <= off, 0 < n <= Size()-off, and returns fn's error or its own.
	//
	// The reader yields exactly the n bytes and then io.EOF; if it cannot
	// (the backend failed, the object is shorter), Read returns an error
	// other than io.EOF. Every byte it yields must be the blob's as it was
	// hashed: a blob that can no longer vouch for its bytes (the object was
	// replaced) fails with an error wrapping ErrChanged before it yields a
	// byte of the new one.
	//
	// ReadRange calls fn at most once: it may retry a request that failed
	// before fn was called, never after, since fn may already have sent
	// what it read. fn must not keep the reader after it returns. A failure
	// worth retrying wraps ErrUnavailable (see Retryable). ReadRange
	// returns, failing, soon after ctx is done.
	ReadRange(ctx context.Context, off, n int64, fn func(io.Reader) error) error
}
