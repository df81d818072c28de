package store_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"testing"

	"github.com/rtp-project/rtp/store"
)

func TestErrorKinds(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		err                  error
		permanent, retryable bool
	}{
		{"nil", nil, false, false},
		{"not found", fmt.Errorf("x: %w", fs.ErrNotExist), true, false},
		{"changed", fmt.Errorf("x: %w", store.ErrChanged), true, false},
		{"unavailable", store.Unavailable(errors.New("503 slow down")), false, true},
		{"unavailable not found", store.Unavailable(fs.ErrNotExist), true, false},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), false, true},
		{"net timeout", &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}, false, true},
		{"canceled", fmt.Errorf("x: %w", context.Canceled), false, false},
		{"unavailable canceled", store.Unavailable(context.Canceled), false, false},
		{"other", errors.New("permission denied"), false, false},
	} {
		if got := store.Permanent(tc.err); got != tc.permanent {
			t.Errorf("%s: Permanent(%v) = %v", tc.name, tc.err, got)
		}
		if got := store.Retryable(tc.err); got != tc.retryable {
			t.Errorf("%s: Retryable(%v) = %v", tc.name, tc.err, got)
		}
	}
	if store.Unavailable(nil) != nil {
		t.Error("Unavailable(nil) is not nil")
	}
	if err := store.Unavailable(errors.New("down")); !errors.Is(err, store.ErrUnavailable) || err.Error() != "store: temporarily unavailable: down" {
		t.Errorf("Unavailable: %v", err)
	}
}
