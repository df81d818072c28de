package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestHostileLoad is the acceptance check in short: 200 hostile sessions
// for 10 s while a good client downloads 64 MiB from a real rtpd.
func TestHostileLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("runs rtpd under load for 10 s")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	var log strings.Builder
	r, err := Run(ctx, Config{
		Size:      64 << 20,
		Hostile:   200,
		Duration:  10 * time.Second,
		MaxRSSMiB: 200,
		Window:    16,
		ReadSize:  1 << 20,
		Pause:     10 * time.Millisecond,
		Stall:     20 * time.Second,
		Log:       &log,
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	var sum strings.Builder
	r.Print(&sum)
	t.Log("\n" + sum.String())
	for _, f := range r.Failures() {
		t.Error(f)
	}
	for _, st := range r.Kinds {
		if st.conns.Load() == 0 {
			t.Errorf("%s: no hostile connection was made", st.name)
		}
	}
}
