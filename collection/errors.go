package collection

import (
	"errors"
	"fmt"
)

var (
	// ErrMalformed is matched (errors.Is) by every error for bytes that
	// break a rule of the format, limits included.
	ErrMalformed = errors.New("collection: malformed manifest")
	// ErrLimit is matched by errors for a manifest over a reader's limits
	// (too many files, a line too long).
	ErrLimit = errors.New("collection: over a limit")
)

// Error is a broken rule, at a line of a manifest (Line > 0) or in an
// Entry given to Encode (Line 0).
type Error struct {
	Line  int    // 1 is the header; 0 when not parsing
	Msg   string // what is wrong, e.g. `path "../x": component ".."`
	limit bool
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("collection: line %d: %s", e.Line, e.Msg)
	}
	return "collection: " + e.Msg
}

// Is matches ErrMalformed, and ErrLimit for a limit.
func (e *Error) Is(target error) bool {
	return target == ErrMalformed || (e.limit && target == ErrLimit)
}

func errorf(format string, a ...any) *Error { return &Error{Msg: fmt.Sprintf(format, a...)} }
