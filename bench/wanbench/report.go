package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// report collects the runs and writes results.csv (a row as each run
// ends), results.json and tables.md (after each cell), and the plots.
type report struct {
	o     *options
	cells []*cell
	runs  []result
	csvF  *os.File
	csvW  *csv.Writer
}

var csvHeader = []string{"scenario", "cell", "tool", "run", "rtt_ms", "loss_pct", "link_mbit", "cc", "file_bytes",
	"outcome", "wall_s", "mbit", "pct_link", "wire_bytes", "max_rss_kib", "fetched_bytes", "retries",
	"before_blackout_bytes", "cc_seen", "loss_drops", "queue_drops", "device_drops", "error"}

func newReport(o *options, cells []*cell) (*report, error) {
	f, err := os.Create(filepath.Join(o.out, "results.csv"))
	if err != nil {
		return nil, err
	}
	r := &report{o: o, cells: cells, csvF: f, csvW: csv.NewWriter(f)}
	r.csvW.Write(csvHeader)
	r.csvW.Flush()
	return r, r.csvW.Error()
}

func (r *report) add(x result) {
	r.runs = append(r.runs, x)
	f := func(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	r.csvW.Write([]string{x.Scenario, x.Cell, x.Tool, strconv.Itoa(x.Run), x.RTTms, f(x.LossPct, 2), f(x.LinkMbit, 0),
		x.CC, i(x.Size), x.Outcome, f(x.Wall, 2), f(x.Mbit, 1), f(x.PctLink, 1), i(x.Wire), i(x.MaxRSS),
		i(x.Fetched), strconv.Itoa(x.Retries), i(x.BeforeBlackout), x.CCSeen, i(x.LossDrops), i(x.QueueDrops), i(x.DeviceDrops), x.Error})
	r.csvW.Flush()
}

func (r *report) close() {
	r.write()
	r.csvF.Close()
}

// write rewrites results.json and tables.md from the runs so far.
func (r *report) write() error {
	j, err := json.MarshalIndent(r.runs, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(r.o.out, "results.json"), append(j, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(r.o.out, "tables.md"), []byte(r.tables()), 0o644)
}

// summary is the median of one tool's runs in one cell.
type summary struct {
	n, failed int     // runs with a figure (ok or capped), runs without
	mbit, pct float64 // the median
	capped    bool    // the median is an upper bound: a capped run in the middle
	errs      []string
}

// summarize takes the median over the ok and capped runs (a capped run's
// upper bound sorts as its figure); failed and corrupt runs are counted
// apart.
func summarize(rs []result) summary {
	var s summary
	var good []result
	for _, x := range rs {
		if x.Outcome == "ok" || x.Outcome == "capped" {
			good = append(good, x)
		} else {
			s.failed++
			s.errs = append(s.errs, fmt.Sprintf("run %d %s: %s", x.Run, x.Outcome, x.Error))
		}
	}
	s.n = len(good)
	if s.n == 0 {
		return s
	}
	slices.SortFunc(good, func(a, b result) int { return cmpFloat(a.Mbit, b.Mbit) })
	mid := good[(s.n-1)/2 : s.n/2+1] // one run, or the two middle ones
	for _, x := range mid {
		s.mbit += x.Mbit / float64(len(mid))
		s.pct += x.PctLink / float64(len(mid))
		s.capped = s.capped || x.Outcome == "capped"
	}
	return s
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (s summary) String() string {
	if s.n == 0 {
		if s.failed == 0 {
			return ""
		}
		return fmt.Sprintf("failed (%d)", s.failed)
	}
	lt := ""
	if s.capped {
		lt = "< "
	}
	v := fmt.Sprintf("%s%.0f (%.0f%%)", lt, s.mbit, s.pct)
	if s.failed > 0 {
		v += fmt.Sprintf(" +%d failed", s.failed)
	}
	return v
}

// ratio compares rtpget's median with the better of curl's and aria2c's:
// "1.35x", or "> 1.35x" when only the baseline was capped (its true
// figure is lower), "< …" when only rtpget was.
func ratio(rtp, base summary) string {
	if rtp.n == 0 || base.n == 0 || base.mbit == 0 {
		return ""
	}
	v := fmt.Sprintf("%.2fx", rtp.mbit/base.mbit)
	switch {
	case rtp.capped && base.capped:
		return v + " (both capped)"
	case rtp.capped:
		return "< " + v
	case base.capped:
		return "> " + v
	}
	return v
}

// byCellTool groups the runs of one scenario.
func (r *report) byCellTool(scenario string) map[[2]string][]result {
	m := map[[2]string][]result{}
	for _, x := range r.runs {
		if x.Scenario == scenario {
			k := [2]string{x.Cell, x.Tool}
			m[k] = append(m[k], x)
		}
	}
	return m
}

func toolTitle(t string) string {
	switch t {
	case "aria2c":
		return "aria2c -x8 -s8"
	case "curl":
		return "curl"
	}
	return strings.Replace(t, "-", " ", 1)
}
