package wan

import "errors"

var (
	// ErrConfig is wrapped by every error Start returns for a bad Config.
	ErrConfig = errors.New("wan: bad config")
	// ErrClosed is returned by Close when the link was already closed.
	ErrClosed = errors.New("wan: link closed")
)
