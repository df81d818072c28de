package main

import (
	"fmt"
	"slices"
	"strings"
)

var scenarioTitle = map[string]string{
	"one":      "One server",
	"three":    "Three servers at once, each on its own link",
	"blackout": "Blackout: the link drops every packet for a while mid-download",
	"rss":      "Peak RSS of rtpget",
}

// tables renders tables.md: one table per scenario that has runs.
func (r *report) tables() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# wanbench results\n\nMbit/s of payload (file bytes x 8 / wall time, start to exit), median of the runs, "+
		"and %% of the link rate. \"< X\": the median run was stopped at its cap (max(%s, %gx its time at link rate)); "+
		"X is from the bytes the client received by then. Command: `wanbench %s`. Machine and versions: env.txt.\n",
		r.o.minCap, r.o.capRatio, strings.Join(r.o.cmdline, " "))
	for _, sc := range allScenarios {
		var cells []*cell
		for _, c := range r.cells {
			if c.Scenario == sc {
				cells = append(cells, c)
			}
		}
		if len(cells) == 0 || len(r.byCellTool(sc)) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n## %s\n\n", scenarioTitle[sc])
		switch sc {
		case "one", "three":
			r.matrixTable(&b, cells)
		case "blackout":
			r.blackoutTable(&b, cells[0])
		case "rss":
			r.rssTable(&b, cells[0])
		}
	}
	return b.String()
}

func (r *report) matrixTable(b *strings.Builder, cells []*cell) {
	sc := cells[0].Scenario
	runs := r.byCellTool(sc)
	tools := cells[0].Tools
	var bases, rtps []string
	for _, t := range tools {
		if t == "curl" || t == "aria2c" {
			bases = append(bases, t)
		} else {
			rtps = append(rtps, t)
		}
	}
	c0 := cells[0]
	if sc == "three" {
		fmt.Fprintf(b, "Links of %s ms RTT, %d Mbit/s each; %% of the %d Mbit/s aggregate. curl fetches from the first server only "+
			"(it has no mirrors); aria2c and rtpget from all three.\n\n", c0.rtts(),
			c0.Links[0].Rate/1e6, c0.rate()/1e6)
	}
	fmt.Fprintf(b, "File of %d MiB per link rate (see results.csv). Loss applies to each direction.\n\n", c0.Size>>20)
	head := []string{"RTT, loss, rate, sender cc"}
	for _, t := range tools {
		head = append(head, toolTitle(t))
	}
	if len(bases) > 0 {
		for _, t := range rtps {
			head = append(head, strings.TrimPrefix(t, "rtpget-")+" ÷ best")
		}
	}
	b.WriteString("| " + strings.Join(head, " | ") + " |\n|" + strings.Repeat("---|", len(head)) + "\n")
	var notes []string
	for _, c := range cells {
		row := []string{c.label()}
		sums := map[string]summary{}
		for _, t := range tools {
			s := summarize(runs[[2]string{c.label(), t}])
			sums[t] = s
			row = append(row, s.String())
			for _, e := range s.errs {
				notes = append(notes, fmt.Sprintf("%s, %s, %s", c.label(), t, e))
			}
		}
		var best summary
		for _, t := range bases {
			if s := sums[t]; s.n > 0 && (best.n == 0 || s.mbit > best.mbit) {
				best = s
			}
		}
		if len(bases) > 0 {
			for _, t := range rtps {
				row = append(row, ratio(sums[t], best))
			}
		}
		b.WriteString("| " + strings.Join(row, " | ") + " |\n")
		for _, t := range tools {
			for _, x := range runs[[2]string{c.label(), t}] {
				if x.DeviceDrops > 0 {
					notes = append(notes, fmt.Sprintf("%s, %s, run %d: the emulator fell behind, its devices dropped %d packets", c.label(), t, x.Run, x.DeviceDrops))
				}
				if x.CCSeen != "" && x.CCSeen != c.CC {
					notes = append(notes, fmt.Sprintf("%s, %s, run %d: the servers' TCP connections used %s", c.label(), t, x.Run, x.CCSeen))
				}
			}
		}
	}
	for _, n := range notes {
		fmt.Fprintf(b, "\n- %s", n)
	}
	b.WriteString("\n")
}

func (r *report) blackoutTable(b *strings.Builder, c *cell) {
	fmt.Fprintf(b, "%s: a %d MiB file; once the client has received a quarter of it, the link drops every packet "+
		"both ways for %s, then carries on. Ideal time %.1f s plus the blackout. \"re-fetched\" is rtpget's "+
		"fetched_bytes (--json) minus the file; a restart from zero would re-fetch at least what was received before the blackout.\n\n",
		c.label(), c.Size>>20, c.Blackout, c.ideal().Seconds())
	b.WriteString("| tool | run | outcome | wall s | Mbit/s | received before blackout, MiB | re-fetched, MiB | retries | restart from zero |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	runs := r.byCellTool("blackout")
	for _, t := range c.Tools {
		for _, x := range runs[[2]string{c.label(), t}] {
			refetch, retries, restart := "", "", ""
			if x.Fetched > 0 {
				refetch = fmt.Sprintf("%.1f", float64(x.Fetched-x.Size)/(1<<20))
				retries = fmt.Sprint(x.Retries)
				restart = "no"
				if x.Fetched-x.Size >= x.BeforeBlackout {
					restart = "yes"
				}
			}
			fmt.Fprintf(b, "| %s | %d | %s | %.1f | %s | %.1f | %s | %s | %s |\n", toolTitle(t), x.Run, outcomeText(x),
				x.Wall, mbitText(x), float64(x.BeforeBlackout)/(1<<20), refetch, retries, restart)
		}
	}
}

func (r *report) rssTable(b *strings.Builder, c *cell) {
	fmt.Fprintf(b, "%s: a %.1f GiB file of random bytes; peak RSS from wait4 (ru_maxrss) of the rtpget process.\n\n",
		c.label(), float64(c.Size)/(1<<30))
	b.WriteString("| tool | outcome | wall s | Mbit/s | peak RSS, MiB | under 100 MiB |\n|---|---|---|---|---|---|\n")
	runs := r.byCellTool("rss")
	for _, t := range c.Tools {
		for _, x := range runs[[2]string{c.label(), t}] {
			under := "yes"
			if x.MaxRSS >= 100<<10 {
				under = "no"
			}
			fmt.Fprintf(b, "| %s | %s | %.1f | %s | %.1f | %s |\n", toolTitle(t), outcomeText(x), x.Wall, mbitText(x),
				float64(x.MaxRSS)/1024, under)
		}
	}
}

func outcomeText(x result) string {
	if x.Error != "" && !slices.Contains([]string{"ok", "capped"}, x.Outcome) {
		return x.Outcome + ": " + strings.ReplaceAll(x.Error, "|", "/")
	}
	return x.Outcome
}

func mbitText(x result) string {
	switch x.Outcome {
	case "ok":
		return fmt.Sprintf("%.0f", x.Mbit)
	case "capped":
		return fmt.Sprintf("< %.0f", x.Mbit)
	}
	return ""
}
