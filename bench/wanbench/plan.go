package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// link is one server's link to the client: RTT/2 of delay each way, the
// same rate each way.
type link struct {
	RTT  time.Duration
	Rate int64 // bit/s
}

// cell is one set of conditions; every tool runs in it -runs times.
type cell struct {
	Scenario string
	Links    []link // one per server
	Loss     float64
	CC       string
	Size     int64 // bytes of the file every tool fetches
	Tools    []string
	Runs     int
	Blackout time.Duration // blackout: the link drops everything this long
	Cap      time.Duration // a run is stopped after this long
}

// rate is the aggregate link rate in bit/s.
func (c *cell) rate() int64 {
	var r int64
	for _, l := range c.Links {
		r += l.Rate
	}
	return r
}

// ideal is the time the file takes at the aggregate link rate.
func (c *cell) ideal() time.Duration {
	return time.Duration(float64(c.Size) * 8 / float64(c.rate()) * float64(time.Second))
}

// rtts lists the links' round-trip times in ms: "100", "20/100/300".
func (c *cell) rtts() string {
	var rtts []string
	for _, l := range c.Links {
		rtts = append(rtts, fmt.Sprintf("%d", l.RTT.Milliseconds()))
	}
	return strings.Join(rtts, "/")
}

// label names the cell in tables and logs: "100ms 0.5% 200M bbr".
func (c *cell) label() string {
	rate := fmt.Sprintf("%dM", c.Links[0].Rate/1e6)
	if len(c.Links) > 1 {
		rate = fmt.Sprintf("%dx%dM", len(c.Links), c.Links[0].Rate/1e6)
	}
	return fmt.Sprintf("%sms %s%% %s %s", c.rtts(), pct(c.Loss), rate, c.CC)
}

// pct formats a 0..1 fraction as a percentage without trailing zeros.
func pct(f float64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", f*100), "0"), ".")
}

// sizeFor rounds the bytes that take secs at rate up to a MiB.
func sizeFor(rate int64, secs float64) int64 {
	b := float64(rate) / 8 * secs
	return int64(math.Ceil(b/(1<<20))) << 20
}

func rtpgetTools(tools []string) []string {
	var out []string
	for _, t := range tools {
		if strings.HasPrefix(t, "rtpget-") {
			out = append(out, t)
		}
	}
	return out
}

// plan lists the cells of the scenarios asked for, in the order they run.
func plan(o *options) []*cell {
	var cells []*cell
	add := func(c *cell) {
		c.Cap = max(o.minCap, time.Duration(o.capRatio*float64(c.ideal()))) + c.Blackout
		cells = append(cells, c)
	}
	size := func(rate int64) int64 {
		if o.size > 0 {
			return o.size
		}
		return sizeFor(rate, o.seconds)
	}
	if slices.Contains(o.scenarios, "one") {
		for _, cc := range o.ccs {
			for _, rate := range o.rates {
				for _, rtt := range o.rtts {
					for _, loss := range o.losses {
						add(&cell{Scenario: "one", Links: []link{{rtt, rate}}, Loss: loss, CC: cc,
							Size: size(rate), Tools: o.tools, Runs: o.runs})
					}
				}
			}
		}
	}
	if slices.Contains(o.scenarios, "three") {
		for _, cc := range o.ccs {
			for _, loss := range o.losses {
				var links []link
				for _, rtt := range o.threeRTTs {
					links = append(links, link{rtt, o.threeRate})
				}
				add(&cell{Scenario: "three", Links: links, Loss: loss, CC: cc,
					Size: size(3 * o.threeRate), Tools: o.tools, Runs: o.runs})
			}
		}
	}
	if slices.Contains(o.scenarios, "blackout") {
		add(&cell{Scenario: "blackout", Links: []link{{o.blackoutRTT, o.blackoutRate}}, CC: o.ccs[0],
			Size: sizeFor(o.blackoutRate, o.blackoutSeconds), Tools: o.tools, Runs: o.runs, Blackout: o.blackout})
	}
	if t := rtpgetTools(o.tools); slices.Contains(o.scenarios, "rss") && len(t) > 0 {
		add(&cell{Scenario: "rss", Links: []link{{o.rssRTT, o.rssRate}}, CC: o.ccs[0],
			Size: o.rssSize, Tools: t, Runs: 1})
	}
	return cells
}

// estimate guesses how long a cell's runs take, and bounds it: every run
// capped. The guess, from smoke runs of the tree this was written in: a
// loss-free run at 1.2x its ideal time; under loss with a bbr sender,
// rtpget at 2x, aria2c at 3x and curl at its cap; under loss with another
// sender, all but aria2c at their caps; 2 s of setup and settling per run.
func estimate(c *cell) (guess, most time.Duration) {
	const perRun = 2 * time.Second
	const atCap = 1e6
	for _, t := range c.Tools {
		f := 1.2
		switch {
		case c.Loss == 0:
		case t == "aria2c":
			f = 3
		case t == "curl" || c.CC != "bbr":
			f = atCap
		default:
			f = 2
		}
		g := min(c.Cap, time.Duration(f*float64(c.ideal()))+c.Blackout)
		guess += time.Duration(c.Runs) * (g + perRun)
		most += time.Duration(c.Runs) * (c.Cap + perRun)
	}
	return guess, most
}

func printPlan(w io.Writer, o *options) {
	var guess, most time.Duration
	var files = map[int64]bool{}
	for _, c := range plan(o) {
		g, m := estimate(c)
		guess, most = guess+g, most+m
		files[c.Size] = true
		fmt.Fprintf(w, "%-9s %-26s %6.0f MiB  ideal %5.1fs  cap %4.0fs  %d x %s  ~%s\n", c.Scenario, c.label(),
			float64(c.Size)/(1<<20), c.ideal().Seconds(), c.Cap.Seconds(), c.Runs, strings.Join(c.Tools, ","), g.Round(time.Second))
	}
	var disk int64
	for s := range files {
		disk += s
	}
	fmt.Fprintf(w, "estimated runtime %s (at most %s, every run capped), plus file generation and indexing; %.1f GiB of files\n",
		guess.Round(time.Minute), most.Round(time.Minute), float64(disk)/(1<<30))
}
