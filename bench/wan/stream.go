package wan

import (
	"context"
	"io"
	"net"
	"net/netip"
	"time"
)

// StreamResult is what Stream measured.
type StreamResult struct {
	Payload  int64         // bytes the receiver read in the measured window
	Window   time.Duration // its length
	Wire     int64         // IP bytes the link forwarded from A to B in it
	Total    int64         // payload bytes over the whole run
	Duration time.Duration // the whole run
}

// PayloadBps and WireBps are the rates of the measured window, in bits/s.
func (r StreamResult) PayloadBps() float64 { return float64(r.Payload) * 8 / r.Window.Seconds() }
func (r StreamResult) WireBps() float64    { return float64(r.Wire) * 8 / r.Window.Seconds() }

// Stream sends one TCP stream from namespace nameA to a receiver at addrB in
// nameB for skip+window, and measures payload and link bytes over the last
// window (skip leaves slow start out). l may be nil, then Wire is zero.
func Stream(ctx context.Context, l *Link, nameA, nameB string, addrB netip.Addr, skip, window time.Duration) (StreamResult, error) {
	var ln net.Listener
	err := InNamespace(nameB, func() (err error) {
		ln, err = net.Listen("tcp", netip.AddrPortFrom(addrB, 0).String())
		return err
	})
	if err != nil {
		return StreamResult{}, err
	}
	defer ln.Close()
	var c net.Conn
	err = InNamespace(nameA, func() (err error) {
		var d net.Dialer
		c, err = d.DialContext(ctx, "tcp", ln.Addr().String())
		return err
	})
	if err != nil {
		return StreamResult{}, err
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		return StreamResult{}, err
	}
	defer s.Close()

	type mark struct {
		t    time.Time
		n    int64
		wire int64
	}
	marks := make(chan mark, 2)
	total := make(chan int64, 1)
	wire := func() int64 {
		if l == nil {
			return 0
		}
		return l.Stats().AtoB.Bytes
	}
	go func() { // the receiver
		buf := make([]byte, 256<<10)
		var n int64
		start := time.Now()
		next := start.Add(skip)
		for i := 0; ; {
			k, err := s.Read(buf)
			n += int64(k)
			if i < 2 && time.Now().After(next) {
				marks <- mark{time.Now(), n, wire()}
				next = next.Add(window)
				i++
			}
			if err != nil {
				total <- n
				return
			}
		}
	}()
	start := time.Now()
	go func() { // the sender
		buf := make([]byte, 256<<10)
		for time.Since(start) < skip+window+200*time.Millisecond && ctx.Err() == nil {
			if _, err := c.Write(buf); err != nil {
				break
			}
		}
		c.Close()
	}()
	var m [2]mark
	for i := range m {
		select {
		case m[i] = <-marks:
		case n := <-total:
			return StreamResult{Total: n, Duration: time.Since(start)}, io.ErrUnexpectedEOF
		}
	}
	n := <-total
	return StreamResult{
		Payload: m[1].n - m[0].n, Window: m[1].t.Sub(m[0].t), Wire: m[1].wire - m[0].wire,
		Total: n, Duration: time.Since(start),
	}, nil
}
