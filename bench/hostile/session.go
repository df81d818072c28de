package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// env is what every hostile session knows.
type env struct {
	addr  string // rtpd's host:port
	uri   string // the served file's urn
	size  int64  // its size
	pause time.Duration
}

// kind is one way of being hostile.
type kind struct {
	name string
	// conn runs one connection and returns when done with it; the caller
	// closes it and reconnects.
	conn func(ctx context.Context, h *hconn)
	// detail summarizes the kind's own counters.
	detail func(st *kindStats) string
}

// hconn is one hostile connection.
type hconn struct {
	c   *net.TCPConn
	r   *bufio.Reader
	e   *env
	st  *kindStats
	rng *rand.Rand
	j   int // the session's index among those of its kind
	n   int // the connection's number within the session, from 0
}

// kindStats counts what the sessions of one kind did and saw.
type kindStats struct {
	*kind
	sessions int

	conns      atomic.Int64 // connections made
	dialErrs   atomic.Int64 // connections refused or failed
	sent       atomic.Int64 // bytes written
	received   atomic.Int64 // bytes read
	closed     atomic.Int64 // connections the server ended, where that is the point
	maxCloseNs atomic.Int64 // the longest wait for such a close
	requests   atomic.Int64 // whole requests written (kind-specific meaning)
	ok         atomic.Int64 // kind-specific: responses as expected
	refused    atomic.Int64 // kind-specific: refusals as expected

	mu         sync.Mutex
	anomalies  int
	firstAnoms []string
}

// serverClosed records a close the server made took after the trigger.
func (st *kindStats) serverClosed(took time.Duration) {
	st.closed.Add(1)
	for {
		old := st.maxCloseNs.Load()
		if int64(took) <= old || st.maxCloseNs.CompareAndSwap(old, int64(took)) {
			return
		}
	}
}

// anomaly records server behaviour wire-v1.md or rtpd's settings rule out.
func (st *kindStats) anomaly(format string, args ...any) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.anomalies++
	if len(st.firstAnoms) < 3 {
		st.firstAnoms = append(st.firstAnoms, fmt.Sprintf(format, args...))
	}
}

// runSession runs hostile connections of st's kind, one after another,
// until ctx is done. i numbers the session among all, j among those of its kind.
// started is called once the first connection is up.
func runSession(ctx context.Context, e *env, st *kindStats, i, j int, started func()) {
	rng := rand.New(rand.NewPCG(uint64(i), 0x6f57696c65))
	d := net.Dialer{Timeout: 5 * time.Second}
	first := true
	for n := 0; ctx.Err() == nil; n++ {
		c, err := d.DialContext(ctx, "tcp", e.addr)
		if err != nil {
			if ctx.Err() == nil {
				st.dialErrs.Add(1)
				sleep(ctx, 100*time.Millisecond)
			}
			continue
		}
		if first {
			first = false
			started()
		}
		st.conns.Add(1)
		tc := c.(*net.TCPConn)
		stop := context.AfterFunc(ctx, func() { tc.Close() })
		st.conn(ctx, &hconn{c: tc, r: bufio.NewReaderSize(tc, 32<<10), e: e, st: st, rng: rng, j: j, n: n})
		stop()
		tc.Close()
		sleep(ctx, e.pause)
	}
}

// write writes b and counts it.
func (h *hconn) write(b []byte) error {
	n, err := h.c.Write(b)
	h.st.sent.Add(int64(n))
	return err
}

// drain reads and counts whatever the server sends until the connection
// ends.
func (h *hconn) drain() {
	buf := make([]byte, 32<<10)
	for {
		n, err := h.c.Read(buf)
		h.st.received.Add(int64(n))
		if err != nil {
			return
		}
	}
}

// awaitClose reads until the server ends the connection or limit passes.
// It reports whether the server closed it, how long that took and how many
// bytes came first. A wait cut short by ctx is not a close.
func (h *hconn) awaitClose(ctx context.Context, limit time.Duration) (closed bool, took time.Duration, got int64) {
	start := time.Now()
	h.c.SetReadDeadline(start.Add(limit))
	defer h.c.SetReadDeadline(time.Time{})
	buf := make([]byte, 4<<10)
	for {
		n, err := h.r.Read(buf)
		got += int64(n)
		h.st.received.Add(int64(n))
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded) {
				return false, time.Since(start), got
			}
			return true, time.Since(start), got
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
