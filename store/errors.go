package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
)

var (
	// ErrChanged means a file changed after it was hashed. Its bytes must not
	// be served under the old hash.
	ErrChanged = errors.New("store: file changed since it was hashed")
	// ErrLocked means another process holds the index.
	ErrLocked = errors.New("store: index is in use by another process")
	// ErrUnavailable means the store could not answer now, but the same call
	// may succeed later: its backend is down, slow, throttling or timed out.
	// Wrap it (see Unavailable) so that callers can tell with Retryable.
	ErrUnavailable = errors.New("store: temporarily unavailable")

	errNotRegular = errors.New("store: not a regular file")
)

func notFound(what string) error { return fmt.Errorf("%s: %w", what, fs.ErrNotExist) }

// Unavailable marks err as retryable: the result wraps both ErrUnavailable
// and err. A nil err stays nil.
func Unavailable(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// Permanent reports whether err means the store will not give these bytes
// however often it is asked: the hash is not held (fs.ErrNotExist) or its
// bytes changed since they were hashed (ErrChanged).
func Permanent(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrChanged)
}

// Retryable reports whether the same call may succeed later: err is not
// Permanent, and wraps ErrUnavailable or context.DeadlineExceeded or is a
// timeout (an error with a Timeout method that says so, as net.Error and
// os.ErrDeadlineExceeded have). A cancelled context is not retryable: the
// caller gave up. Errors of no kind (a permission denied, a corrupt index)
// are neither Permanent nor Retryable.
func Retryable(err error) bool {
	if err == nil || Permanent(err) || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
