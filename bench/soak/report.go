package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Result sums up a soak.
type Result struct {
	Ran, Wanted time.Duration
	Rescan      time.Duration
	Pid         int
	Exits       int    // rtpd exits during the run: 0 or 1 (the soak never restarts it)
	Shutdown    string // how rtpd took SIGTERM at the end
	PeakRSS     int64  // rtpd's VmHWM, bytes

	Lines []string // the summary
	// Failures are the failed checks, the first 50; Failed counts them all.
	Failures []string
	Failed   int
}

func (w *writerStats) ops() int64 {
	return w.create.Load() + w.append.Load() + w.truncate.Load() + w.rename.Load() + w.delete.Load() + w.overwrite.Load()
}

// sum fills r's summary lines, and fails the soak if it checked nothing.
func (s *soak) sum(r *Result, rlog *rtpdLog) {
	w, c, st := s.wr, s.cl, s.stab
	files, _ := s.book.views()
	s.book.mu.Lock()
	peakFolder := s.book.peak
	s.book.mu.Unlock()
	add := func(format string, a ...any) { r.Lines = append(r.Lines, fmt.Sprintf(format, a...)) }
	add("duration: %v of %v; rtpd --rescan %v, %d writers, %d clients, files up to %d MiB, folder at most %d MiB (peak %d MiB, %d files at the end)",
		r.Ran.Round(time.Second), r.Wanted, r.Rescan, s.cfg.Writers, s.cfg.Clients, s.cfg.MaxSize>>20, s.cfg.MaxTotal>>20, peakFolder>>20, len(files))
	add("writer ops: %d: create %d (%d of 128 MiB or more), append %d, truncate %d (%d to zero), rename %d (%d over a file), delete %d, overwrite %d; %d MiB written; %d pauses",
		w.ops(), w.create.Load(), w.createLarge.Load(), w.append.Load(), w.truncate.Load(), w.truncateZero.Load(),
		w.rename.Load(), w.renameReplace.Load(), w.delete.Load(), w.overwrite.Load(), w.written.Load()>>20, w.rest.Load())
	add("downloads: %d exact (%d MiB, largest %d MiB; %d of files that did not change meanwhile), %d failed as the file changed (expected), %d wrong; URLs by Gemini name %d, from the HTTP page %d; Gemini misses (being hashed or gone) %d; hashes of a mid-write prefix %d",
		c.exact.Load(), c.bytes.Load()>>20, c.largest.Load()>>20, c.unchangedOK.Load(), c.changed.Load(), c.wrong.Load(),
		c.viaGemini.Load(), c.viaPage.Load(), c.resolveMiss.Load(), c.prefixStates.Load())
	p := s.pr
	add("READs checked byte by byte: %d exact (%d MiB) in %d OPENs; %d refused after the file changed, %d OPENs refused (gone or changed), %d wrong",
		p.reads.Load(), p.bytes.Load()>>20, p.opens.Load(), p.readRefused.Load(), p.openRefused.Load(), p.wrong.Load())
	median, worst := st.delays()
	st.mu.Lock()
	add("stable files: %d versions served once due (stood still 2 rescans + rtpd's hashing time), %d not served; %d listed after they were gone; downloads %d exact, %d failed as the file changed, %d wrong; first seen served after standing still %v median, %v at most; %d check rounds",
		len(st.due), len(st.reported), len(st.stale), st.dlExact, st.dlChanged, st.dlWrong, median.Round(time.Millisecond), worst.Round(time.Millisecond), st.rounds)
	dlExact, due := st.dlExact, len(st.due)
	st.mu.Unlock()
	m := s.clock.metrics()
	lv := rlog.levelCounts()
	add("rtpd: pid %d, exits during the soak %d, restarts 0; /healthz %d ok, %d failed; peak RSS %d MiB; %s; log lines warn %d, error %d",
		r.Pid, r.Exits, s.health.ok, s.health.failed, r.PeakRSS>>20, r.Shutdown, lv["warn"], lv["error"])
	add("rtpd metrics: hashed %.0f files, %.0f MiB in %.0f passes (%v hashing); reads data %.0f, failed %.0f (file changed or gone); opens ok %.0f, not found %.0f",
		m["rtpd_hashed_files_total"], m["rtpd_hashed_bytes_total"]/(1<<20), m["rtpd_hash_passes_total"], s.clock.busyNow().Round(time.Second),
		m[`rtpd_reads_total{result="data"}`], m[`rtpd_reads_total{result="failed"}`], m[`rtpd_opens_total{result="ok"}`], m[`rtpd_opens_total{result="not_found"}`])
	if r.Exits == 0 {
		// A soak that did nothing proves nothing.
		switch {
		case w.ops() == 0:
			s.fail("the writer changed nothing")
		case c.exact.Load() == 0:
			s.fail("no client download completed")
		case due == 0:
			s.fail("no file was found served after standing still")
		case dlExact == 0 && r.Ran >= time.Minute:
			s.fail("no stable file was downloaded")
		case p.reads.Load() == 0:
			s.fail("no READ was checked byte by byte")
		}
	}
	s.failMu.Lock()
	r.Failures, r.Failed = s.failures, s.nfail
	s.failMu.Unlock()
}

// Print writes the summary and the verdict.
func (r *Result) Print(w io.Writer) {
	fmt.Fprintln(w, "soak summary")
	for _, l := range r.Lines {
		fmt.Fprintln(w, "  "+l)
	}
	if r.Failed == 0 {
		fmt.Fprintln(w, "PASS")
		return
	}
	fmt.Fprintf(w, "FAIL: %d failed checks", r.Failed)
	if r.Failed > len(r.Failures) {
		fmt.Fprintf(w, " (the first %d below)", len(r.Failures))
	}
	fmt.Fprintln(w)
	for _, f := range r.Failures {
		fmt.Fprintln(w, "  - "+strings.ReplaceAll(f, "\n", "\n    "))
	}
}

func indent(s string) string { return "    " + strings.ReplaceAll(s, "\n", "\n    ") }
