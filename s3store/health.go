package s3store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rtp-project/rtp/store"
)

// health is what the store last learnt of the bucket from its requests.
type health struct {
	mu        sync.Mutex
	ok        time.Time // the last request the bucket answered
	downSince time.Time // zero while it answers
	lastErr   error
	probing   bool
}

// probeAfter is how long a health check trusts what the store's own
// requests last found before it asks the bucket itself.
const probeAfter = 5 * time.Second

// note records how a request to the bucket went: an error that says the
// bucket cannot be reached (store.Retryable) marks it down; an answer,
// even "no such key", marks it up.
func (s *Store) note(err error) {
	h := &s.health
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	switch {
	case err == nil || !store.Retryable(err):
		if !h.downSince.IsZero() {
			s.log.Info("bucket reachable again", "bucket", s.loc.Bucket, "down_for", now.Sub(h.downSince).Round(time.Millisecond))
		}
		h.ok, h.downSince, h.lastErr = now, time.Time{}, nil
	case h.downSince.IsZero():
		h.downSince, h.lastErr = now, err
		s.log.Warn("bucket unreachable; READs of what is not in memory fail as temporarily unavailable until it is back", "bucket", s.loc.Bucket, "err", err)
	default:
		h.lastErr = err
	}
}

var errStopList = errors.New("s3store: stop listing")

// Health returns nil when the index can be read and the bucket answers.
// It asks the bucket (one HEAD of the bucket, at most every probeAfter)
// only when no request of the store's own has said how it is lately. An
// unreadable index is an error that starts "index: ", a bucket that cannot
// be reached one that starts "bucket: " and wraps store.ErrUnavailable.
func (s *Store) Health(ctx context.Context) error {
	err := s.List(ctx, func(store.Entry) error { return errStopList })
	if err != nil && !errors.Is(err, errStopList) {
		return fmt.Errorf("index: %w", err)
	}
	h := &s.health
	h.mu.Lock()
	fresh := time.Since(h.ok) < probeAfter || (!h.downSince.IsZero() && h.probing)
	down, lastErr := h.downSince, h.lastErr
	probe := !fresh && !h.probing
	if probe {
		h.probing = true
	}
	h.mu.Unlock()
	if probe {
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		_, err := s.mc.BucketExists(pctx, s.loc.Bucket)
		cancel()
		err = classify("bucket "+s.loc.Bucket, err)
		if ctx.Err() == nil {
			s.note(err)
		}
		h.mu.Lock()
		h.probing = false
		down, lastErr = h.downSince, h.lastErr
		h.mu.Unlock()
		if err != nil && !store.Retryable(err) {
			return fmt.Errorf("bucket: %w", err)
		}
	}
	if !down.IsZero() {
		return fmt.Errorf("bucket: unreachable for %s: %w", time.Since(down).Round(time.Second), lastErr)
	}
	return nil
}
