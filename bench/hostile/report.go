package main

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Print writes the run's summary to w.
func (r *Result) Print(w io.Writer) {
	fmt.Fprintf(w, "rtpd (pid %d) served a %d-byte file over tcp on loopback; %d hostile sessions for %v; %s, %d CPUs\n",
		r.PID, r.Size, r.Hostile, r.LoadTime.Round(time.Millisecond), runtime.Version(), runtime.NumCPU())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "kind\tsessions\tconnections\trefused\tsent MB\treceived MB\twhat happened")
	var anomalies []string
	for _, st := range r.Kinds {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.1f\t%.1f\t%s\n", st.name, st.sessions, st.conns.Load(), st.dialErrs.Load(),
			mb(st.sent.Load()), mb(st.received.Load()), st.detail(st))
		st.mu.Lock()
		if st.anomalies > 0 {
			anomalies = append(anomalies, fmt.Sprintf("%s: %d, first: %s", st.name, st.anomalies, strings.Join(st.firstAnoms, "; ")))
		}
		st.mu.Unlock()
	}
	tw.Flush()
	if len(anomalies) == 0 {
		fmt.Fprintln(w, "protocol anomalies seen by hostile sessions: none")
	} else {
		fmt.Fprintln(w, "protocol anomalies seen by hostile sessions:")
		for _, a := range anomalies {
			fmt.Fprintln(w, "  "+a)
		}
	}

	g := r.Good
	hash := "sha256 OK"
	if !g.HashOK {
		hash = "sha256 NOT verified"
	}
	fmt.Fprintf(w, "good download: %d of %d bytes in %v, %.1f MB/s, %s (began %v into the load, %d/%d hostile sessions connected, %d READs of %d B in flight)\n",
		g.Bytes, r.Size, g.Elapsed.Round(time.Millisecond), g.MBps(), hash, r.GoodAt.Round(time.Millisecond), r.HostileUp, r.Hostile, r.Window, r.ReadSize)
	if g.Err != nil {
		fmt.Fprintf(w, "good download error: %v\n", g.Err)
	}

	s := &r.RSS
	fmt.Fprintf(w, "rtpd RSS: peak %.1f MiB (VmRSS sampled every 100ms, %d samples, peak at %v), VmHWM under load %.1f MiB, %.1f MiB at the end; limit %d MiB\n",
		mib(s.Peak), s.Samples, s.PeakAt.Round(100*time.Millisecond), mib(r.HWMLoad), mib(r.RSSEnd), r.MaxRSSMiB)
	reset := "reset before the load"
	if r.resetErr != nil {
		reset = fmt.Sprintf("NOT reset (%v): it includes indexing", r.resetErr)
	}
	fmt.Fprintf(w, "  VmHWM after indexing %.1f MiB; the under-load VmHWM was %s; most open descriptors %d\n", mib(r.HWMIndex), reset, s.MaxFDs)

	alive := "yes"
	if !r.Alive {
		alive = fmt.Sprintf("NO (%v)", r.ExitErr)
	}
	fmt.Fprintf(w, "rtpd alive at the end: %s", alive)
	if r.FreshErr != nil {
		fmt.Fprintf(w, "; fresh OPEN failed: %v\n", r.FreshErr)
	} else {
		fmt.Fprintf(w, "; a fresh session's OPEN and 4 KiB READ took %v under load\n", r.Fresh.Round(time.Microsecond))
	}
	var levels []string
	for k, v := range r.LogLevels {
		levels = append(levels, fmt.Sprintf("%s %d", k, v))
	}
	slices.Sort(levels)
	fmt.Fprintf(w, "rtpd log lines by level: %s\n", strings.Join(levels, ", "))
	if f := r.Failures(); len(f) > 0 {
		fmt.Fprintf(w, "FAIL\n  %s\nrtpd's last log lines:\n%s\n", strings.Join(f, "\n  "), r.LastLog)
	} else {
		fmt.Fprintln(w, "PASS: the good download completed, rtpd stayed up, its RSS stayed under the limit")
	}
}
