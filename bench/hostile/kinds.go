package main

import (
	"context"
	"fmt"
	"time"
)

// rtpd's defaults, which the bench runs it with (server/config.go).
const (
	requestTimeout = 10 * time.Second
	maxOpenTokens  = 1024
	maxRead        = 1 << 20
)

// kinds are the hostile behaviours, run round-robin by the sessions.
var kinds = []kind{
	{"garbage", garbage, func(st *kindStats) string {
		return fmt.Sprintf("%.1f MB of random bytes written", mb(st.sent.Load()))
	}},
	{"truncated", truncated, func(st *kindStats) string {
		return "halves left hanging: " + closes(st)
	}},
	{"huge-length", hugeLength, func(st *kindStats) string {
		return fmt.Sprintf("%s; %d valid 2^62-field probes answered right", closes(st), st.ok.Load())
	}},
	{"slow-loris", slowLoris, func(st *kindStats) string {
		return fmt.Sprintf("%d trickled bytes; trickles: %s", st.sent.Load(), closes(st))
	}},
	{"pipeliner", pipeliner, func(st *kindStats) string {
		return fmt.Sprintf("%d READs of 1 MiB written, no response read; %s", st.requests.Load(), closes(st))
	}},
	{"token-flood", tokenFlood, func(st *kindStats) string {
		return fmt.Sprintf("%d OPENs: %d OK, %d too many open tokens", st.requests.Load(), st.ok.Load(), st.refused.Load())
	}},
}

func mb(n int64) float64 { return float64(n) / 1e6 }

// closes says how many connections rtpd ended and the longest it took.
func closes(st *kindStats) string {
	n := st.closed.Load()
	if n == 0 {
		return "none closed by rtpd"
	}
	return fmt.Sprintf("%d closed by rtpd, at most %v after", n, time.Duration(st.maxCloseNs.Load()).Round(time.Millisecond))
}

// garbage writes random bytes until rtpd closes the connection.
func garbage(ctx context.Context, h *hconn) {
	go h.drain()
	buf := make([]byte, 4<<10)
	for ctx.Err() == nil {
		for i := range buf {
			buf[i] = byte(h.rng.Uint32())
		}
		if h.write(buf) != nil {
			return
		}
	}
}

// truncated sends part of an OPEN or READ, then either closes at once or
// falls silent until rtpd gives up on the request.
func truncated(ctx context.Context, h *hconn) {
	variant := (h.j + h.n) % 4
	var req []byte
	if variant%2 == 0 {
		req = appendOpen(nil, 1, h.e.uri)
	} else {
		req = appendRead(nil, 2, 1, 0, maxRead)
	}
	cut := 1 + h.rng.IntN(len(req)-1)
	if h.write(req[:cut]) != nil || variant < 2 {
		return
	}
	closed, took, got := h.awaitClose(ctx, 3*requestTimeout)
	switch {
	case closed:
		h.st.serverClosed(took)
	case ctx.Err() == nil:
		h.st.anomaly("a request cut at %d of %d bytes was still open after %v", cut, len(req), took)
	}
	if got > 0 {
		h.st.anomaly("%d bytes came back for half a request", got)
	}
}

var hugeLengths = []uint64{1 << 62, 1<<64 - 1, 8193}

// hugeLength declares an OPEN uri of 2^62, 2^64-1 or 8193 bytes, which rtpd
// must answer by closing the session at once. Every other connection first
// checks that 2^62 in a READ's offset and length fields is served normally.
func hugeLength(ctx context.Context, h *hconn) {
	seq := h.j + h.n
	if seq%2 == 0 && !h.probeBigFields() {
		return
	}
	n := hugeLengths[seq%len(hugeLengths)]
	req := appendOpenHeader(nil, 9, n)
	for range 4 << 10 {
		req = append(req, 'u')
	}
	h.write(req) // may fail: rtpd need not read the uri
	closed, took, got := h.awaitClose(ctx, 5*time.Second)
	switch {
	case closed:
		h.st.serverClosed(took)
	case ctx.Err() == nil:
		h.st.anomaly("a uri length of %d left the session open for %v", n, took)
	}
	if got > 0 {
		h.st.anomaly("%d bytes came back for a uri length of %d", got, n)
	}
}

// probeBigFields OPENs the file and READs at offset 2^62 (empty payload)
// and at 0 with length 2^64-1 (a capped, non-empty payload).
func (h *hconn) probeBigFields() bool {
	b := appendOpen(nil, 1, h.e.uri)
	b = appendRead(b, 2, 1, 1<<62, 1<<62)
	b = appendRead(b, 3, 1, 0, 1<<64-1)
	if h.write(b) != nil {
		return false
	}
	h.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	defer h.c.SetReadDeadline(time.Time{})
	want := map[uint64]uint64{1: 0, 2: 0, 3: uint64(min(h.e.size, maxRead))}
	for range 3 {
		r, err := readResponse(h.r, 256, maxRead)
		if err != nil {
			return false // the load's end, or rtpd gave up on a slow reader
		}
		h.st.received.Add(respHeaderLen + int64(r.n))
		n, ok := want[r.tok]
		if !ok || r.isErr || r.n != n {
			h.st.anomaly("probe: token %d: error %v, %d bytes (%q), want %d bytes", r.tok, r.isErr, r.n, r.small, n)
			return false
		}
		delete(want, r.tok)
	}
	h.st.ok.Add(1)
	return true
}

// slowLoris sends a valid OPEN one byte a second, or, in every other
// session, connects and sends nothing.
func slowLoris(ctx context.Context, h *hconn) {
	if h.j%2 == 1 {
		closed, took, _ := h.awaitClose(ctx, time.Hour)
		if closed {
			h.st.serverClosed(took) // the idle timeout
		}
		return
	}
	closedc := make(chan time.Time, 1)
	go func() {
		closed, _, _ := h.awaitClose(ctx, time.Hour)
		if closed {
			closedc <- time.Now()
		}
	}()
	req := appendOpen(nil, 1, h.e.uri)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var start time.Time
	for i := range req {
		if i == 0 {
			start = time.Now()
		}
		if h.write(req[i:i+1]) != nil {
			select {
			case at := <-closedc:
				h.st.serverClosed(at.Sub(start))
			case <-time.After(time.Second):
			}
			return
		}
		select {
		case <-ctx.Done():
			return
		case at := <-closedc:
			h.st.serverClosed(at.Sub(start))
			return
		case <-t.C:
		}
	}
	h.st.anomaly("a %d-byte request trickled in over %v without rtpd closing", len(req), time.Since(start).Round(time.Second))
	select {
	case <-ctx.Done():
	case <-closedc:
	}
}

// pipeliner OPENs the file, then writes 1 MiB READs for as long as rtpd
// takes them, and never reads a response.
func pipeliner(ctx context.Context, h *hconn) {
	start := time.Now()
	if h.write(appendOpen(nil, 1, h.e.uri)) != nil {
		return
	}
	const batch = 64
	tok := uint64(2)
	b := make([]byte, 0, batch*readLen)
	for ctx.Err() == nil {
		b = b[:0]
		for range batch {
			off := (tok * maxRead) % uint64(h.e.size)
			b = appendRead(b, tok, 1, off, maxRead)
			tok++
		}
		if err := h.write(b); err != nil {
			if ctx.Err() == nil {
				// A write blocks once rtpd stops reading; it fails when rtpd
				// gives up on us.
				h.st.serverClosed(time.Since(start))
			}
			return
		}
		h.st.requests.Add(batch)
	}
}

// tokenFlood OPENs the file under 2000 distinct tokens in one burst and
// checks that rtpd grants exactly its limit and refuses the rest.
func tokenFlood(ctx context.Context, h *hconn) {
	const n = 2000
	done := make(chan struct{})
	var ok, refused int
	go func() {
		defer close(done)
		h.c.SetReadDeadline(time.Now().Add(time.Minute))
		for range n {
			r, err := readResponse(h.r, 256, 256)
			if err != nil {
				return
			}
			h.st.received.Add(respHeaderLen + int64(r.n))
			switch {
			case !r.isErr && r.n == 0:
				ok++
			case r.isErr && string(r.small) == "error: too many open tokens":
				refused++
			default:
				h.st.anomaly("OPEN %d: error %v, %q", r.tok, r.isErr, r.small)
			}
		}
	}()
	var b []byte
	for tok := range uint64(n) {
		b = appendOpen(b, tok+1, h.e.uri)
	}
	if h.write(b) != nil {
		return
	}
	h.st.requests.Add(n)
	<-done
	h.st.ok.Add(int64(ok))
	h.st.refused.Add(int64(refused))
	if ctx.Err() == nil && (ok != maxOpenTokens || refused != n-maxOpenTokens) {
		h.st.anomaly("%d OPENs: %d OK, %d refused; want %d OK", n, ok, refused, maxOpenTokens)
	}
}
