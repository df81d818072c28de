package edge

import (
	"errors"
	"fmt"
	"io/fs"
)

var (
	// ErrNoUpstream means no upstream is left to fill from: none was
	// given, or each names this process.
	ErrNoUpstream = errors.New("edge: no upstream to fill from")
	// errSibling answers a sibling edge's OPEN of a hash this edge does not
	// hold whole: edges that list each other fill only for clients, never
	// for each other, so that two of them never wait on each other.
	errSibling = fmt.Errorf("edge: not held whole, and a sibling's request neither starts nor joins a fill: %w", fs.ErrNotExist)
	// errNegative answers a hash every upstream said it does not hold, a
	// moment ago (the negative cache).
	// errHeld: the hash asked for is held whole now; open it from the
	// cache.
	errHeld     = errors.New("edge: held")
	errNegative = fmt.Errorf("edge: no upstream holds it (remembered): %w", fs.ErrNotExist)
	// errNoneHolds: every upstream answered "not found" to a fill's OPEN.
	errNoneHolds = fmt.Errorf("edge: no upstream holds it: %w", fs.ErrNotExist)
)
