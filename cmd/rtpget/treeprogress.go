package main

import (
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/rtp-project/rtp/internal/cliutil"
)

// treeDone returns the bytes verified so far of what this run fetches.
func (t *treeFetch) treeDone() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := t.bigDone
	for d := range t.swarms {
		n += d.Progress().Done
	}
	if t.lanes != nil {
		n += t.lanes.verified.Load()
	}
	return n
}

// showProgress draws one bar for the whole tree (bytes to fetch, files
// placed, rate, ETA) on a terminal, unless -q, --json or several downloads
// at once. It returns a function that stops it.
func (t *treeFetch) showProgress(small, big []*content) (stop func()) {
	c := t.g.c
	if c.Bool(flagQuiet) || c.Bool(flagJSON) || !t.g.bars || !cliutil.IsTerminal(os.Stderr) {
		return func() {}
	}
	var total int64
	for _, cs := range [][]*content{small, big} {
		for _, ct := range cs {
			total += ct.size
		}
	}
	files := t.sum.Selected - t.sum.Present
	var mu sync.Mutex
	var done int64
	var rate float64
	p := mpb.New(mpb.WithOutput(os.Stderr), mpb.WithWidth(40), mpb.WithRefreshRate(200*time.Millisecond))
	bar := p.AddBar(max(total, 1),
		mpb.PrependDecorators(decor.Any(func(decor.Statistics) string {
			mu.Lock()
			defer mu.Unlock()
			t.mu.Lock()
			placed := t.sum.Placed
			t.mu.Unlock()
			return fmt.Sprintf("%d/%d files  %s / %s", placed, files, size(done), size(total))
		}, decor.WCSyncSpaceR)),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
			mu.Lock()
			defer mu.Unlock()
			eta := "-"
			if rate > 0 {
				eta = time.Duration(float64(total-done) / rate * float64(time.Second)).Round(time.Second).String()
			}
			return fmt.Sprintf("%s/s  ETA %s", size(int64(rate)), eta)
		})),
	)
	quit := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		last, lastT := int64(0), time.Now()
		for {
			n := t.treeDone()
			mu.Lock()
			if dt := time.Since(lastT).Seconds(); dt > 0 && n >= last {
				rate = 0.7*rate + 0.3*float64(n-last)/dt
			}
			last, lastT, done = n, time.Now(), n
			mu.Unlock()
			bar.SetCurrent(min(n, max(total, 1)))
			select {
			case <-quit:
				bar.SetTotal(max(total, 1), true)
				return
			case <-tick.C:
			}
		}
	}()
	return func() {
		close(quit)
		<-finished
		p.Wait()
	}
}
