package store

import (
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

	errNotRegular = errors.New("store: not a regular file")
)

func notFound(what string) error { return fmt.Errorf("%s: %w", what, fs.ErrNotExist) }
