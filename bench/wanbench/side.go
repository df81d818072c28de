package main

import (
	"context"
	"strings"
	"sync"
	"time"
)

// sideTasks are goroutines that act on the network while a tool runs; they
// end when the tool does (or soon after), and wait waits for them.
type sideTasks struct{ wg sync.WaitGroup }

func (s *sideTasks) wait() { s.wg.Wait() }

// goBlackout drops every packet of server 1's link, both ways, for
// c.Blackout once the client has received a quarter of the file, then
// restores the cell's link. before gets the bytes received by then. The
// link is restored however the run ends.
func (s *sideTasks) goBlackout(t *topo, c *cell, rx0 int64, done <-chan struct{}, before *int64) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			if got := t.rx() - rx0; got >= c.Size/4 {
				*before = got
				break
			}
		}
		t.log("blackout: %d MiB received, the link drops everything for %s", *before>>20, c.Blackout)
		t.set(1, link{c.Links[0].RTT, c.Links[0].Rate}, 1)
		defer t.set(1, c.Links[0], c.Loss)
		select {
		case <-done:
		case <-time.After(c.Blackout):
		}
	}()
}

// goCCSeen samples, 2 s into the run, which congestion control the servers'
// established TCP connections use.
func (s *sideTasks) goCCSeen(ctx context.Context, t *topo, done <-chan struct{}, seen *string) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		select {
		case <-done:
			return
		case <-time.After(2 * time.Second):
		}
		*seen = strings.Join(t.ccSeen(ctx), "+")
	}()
}
