package main

import (
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/rtp-project/rtp/internal/cliutil"
	"github.com/rtp-project/rtp/swarm"
)

// showProgress draws, on a terminal and unless -q or --json, a bar with
// bytes, rate and ETA and one line per server with its rate and state. It
// returns a function that stops the display.
func (j *job) showProgress(d *swarm.Download) (stop func()) {
	if j.quiet || j.json || j.noBars || !cliutil.IsTerminal(os.Stderr) {
		return func() {}
	}
	var mu sync.Mutex
	var snap swarm.Progress
	var rate float64 // bytes/s, smoothed
	p := mpb.New(mpb.WithOutput(os.Stderr), mpb.WithWidth(40), mpb.WithRefreshRate(200*time.Millisecond))
	total := p.AddBar(0,
		mpb.PrependDecorators(decor.Any(func(decor.Statistics) string {
			mu.Lock()
			defer mu.Unlock()
			return fmt.Sprintf("%s / %s", size(snap.Done), size(snap.Length))
		}, decor.WCSyncSpaceR)),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
			mu.Lock()
			defer mu.Unlock()
			eta := "-"
			if rate > 0 && snap.Length >= 0 {
				eta = time.Duration(float64(snap.Length-snap.Done) / rate * float64(time.Second)).Round(time.Second).String()
			}
			return fmt.Sprintf("%s/s  ETA %s", size(int64(rate)), eta)
		})),
	)
	var lines []*mpb.Bar
	for i := range j.url.Servers {
		lines = append(lines, p.New(0, mpb.NopStyle(), mpb.PrependDecorators(decor.Any(func(decor.Statistics) string {
			mu.Lock()
			defer mu.Unlock()
			if i >= len(snap.Servers) {
				return ""
			}
			s := snap.Servers[i]
			state := s.State.String()
			switch {
			case s.State == swarm.StateRetrying:
				state += " in " + s.RetryIn.String()
			case s.State == swarm.StateActive:
				state += fmt.Sprintf(", %d sessions, %d READs in flight", s.Sessions, s.Window)
				if s.Path == swarm.PathSlow || s.Path == swarm.PathProbing {
					state += ", path " + s.Path.String()
				}
			}
			return fmt.Sprintf("  %-32s %10s/s  %s", s.Server, size(int64(s.Rate)), state)
		}))))
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		var last int64
		lastT := time.Now()
		for {
			s := d.Progress()
			mu.Lock()
			now := time.Now()
			if dt := now.Sub(lastT).Seconds(); dt > 0 && s.Done >= last {
				inst := float64(s.Done-last) / dt
				rate = 0.7*rate + 0.3*inst
			}
			last, lastT = s.Done, now
			snap = s
			mu.Unlock()
			if s.Length >= 0 {
				total.SetTotal(max(s.Length, 1), false)
				total.SetCurrent(s.Done)
			}
			select {
			case <-done:
				total.SetTotal(max(s.Length, 1), true)
				for _, l := range lines {
					l.SetTotal(1, true)
				}
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		p.Wait()
	}
}

func size(n int64) string {
	if n < 0 {
		return "?"
	}
	f := float64(n)
	for _, u := range []string{"B", "KiB", "MiB", "GiB", "TiB"} {
		if f < 1024 || u == "TiB" {
			if u == "B" {
				return fmt.Sprintf("%d B", n)
			}
			return fmt.Sprintf("%.1f %s", f, u)
		}
		f /= 1024
	}
	return ""
}
