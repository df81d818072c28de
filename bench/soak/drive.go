package main

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/rtp-project/rtp/bench/internal/proc"
)

// drive runs the writers, the clients, the stability checker and the
// watch on rtpd for cfg.Duration, or until rtpd dies; then stops them and
// rtpd, and sums up.
func (s *soak) drive(ctx context.Context, d *proc.RTPD, w *writer, rlog *rtpdLog) *Result {
	start := time.Now()
	runCtx, stopRun := context.WithTimeout(ctx, s.cfg.Duration)
	defer stopRun()
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	died := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		s.watch(watchCtx, d, rlog, died)
	}()
	go func() {
		select {
		case <-died:
			stopRun() // rtpd is gone: nothing more to learn
		case <-runCtx.Done():
		}
	}()

	var work sync.WaitGroup
	for i := range s.cfg.Writers {
		work.Add(1)
		go func() { defer work.Done(); w.run(runCtx, uint64(i+1)) }()
	}
	for i := range s.cfg.Clients {
		work.Add(1)
		go func() { defer work.Done(); s.client(runCtx, i) }()
	}
	work.Add(3)
	go func() { defer work.Done(); s.stability(runCtx) }()
	go func() { defer work.Done(); s.probe(runCtx, 1) }()
	go func() { defer work.Done(); s.probe(runCtx, 2) }()
	tick := time.NewTicker(30 * time.Second)
	defer tick.Stop()
	for runCtx.Err() == nil {
		select {
		case <-runCtx.Done():
		case <-tick.C:
			s.progress(time.Since(start))
		}
	}
	ran := time.Since(start)
	work.Wait()
	stopWatch()
	<-watched

	r := &Result{Ran: ran, Wanted: s.cfg.Duration, Pid: d.Pid(), Rescan: s.cfg.Rescan}
	select {
	case <-died:
		r.Exits, r.Shutdown = 1, "died during the soak"
	default:
		if m, err := proc.Status(d.Pid(), "VmHWM"); err == nil {
			s.hwm.Store(m["VmHWM"])
		}
		// The soak is over: a clean stop is SIGTERM, then exit 0.
		syscall.Kill(d.Pid(), syscall.SIGTERM)
		stopped := make(chan error, 1)
		go func() { stopped <- d.ExitErr() }()
		select {
		case err := <-stopped:
			r.Shutdown = "exit 0 on SIGTERM"
			if err != nil {
				r.Shutdown = fmt.Sprintf("%v on SIGTERM", err)
				s.fail(fmt.Sprintf("rtpd did not exit cleanly on SIGTERM: %v\n%s", err, indent(rlog.tail())))
			}
		case <-time.After(20 * time.Second):
			r.Shutdown = "still running 20 s after SIGTERM: killed"
			s.fail("rtpd did not stop within 20 s of SIGTERM")
			d.Kill()
		}
	}
	r.PeakRSS = s.hwm.Load()
	s.sum(r, rlog)
	return r
}

// watch checks rtpd until ctx is done: that it is alive, that /healthz
// answers 200 every second, and that its log shows no panic, fatal error
// or data race. It samples /metrics five times a second for the hashing
// clock. It closes died if rtpd exits.
func (s *soak) watch(ctx context.Context, d *proc.RTPD, rlog *rtpdLog, died chan<- struct{}) {
	exited := make(chan error, 1)
	go func() { exited <- d.ExitErr() }()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	troubled := false
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case err := <-exited:
			if ctx.Err() != nil {
				return // stopped by the soak
			}
			s.dead.Store(true)
			time.Sleep(100 * time.Millisecond) // let the last log lines in
			msg := fmt.Sprintf("rtpd exited (%v) during the soak", err)
			switch t := rlog.trouble(); {
			case troubled:
				msg += ", after the trouble above"
			case t != "":
				msg += "; its log:\n" + indent(t)
			default:
				msg += "; its last log lines:\n" + indent(rlog.tail())
			}
			s.fail(msg)
			close(died)
			return
		case <-tick.C:
		}
		if b, err := get(ctx, "http://"+s.metricsAt+"/metrics"); err == nil {
			s.clock.sample(time.Now(), parseMetrics(b))
		}
		if t := rlog.trouble(); t != "" && !troubled {
			troubled = true
			s.fail("rtpd's log shows:\n" + indent(t))
		}
		if n%5 != 0 {
			continue
		}
		if m, err := proc.Status(d.Pid(), "VmHWM"); err == nil {
			s.hwm.Store(m["VmHWM"])
		}
		if _, err := get(ctx, "http://"+s.metricsAt+"/healthz"); err != nil {
			if ctx.Err() != nil || !d.Alive() {
				continue
			}
			s.health.failed++
			s.fail("/healthz: " + err.Error())
		} else {
			s.health.ok++
		}
	}
}

func (s *soak) progress(ran time.Duration) {
	peak := s.hwm.Load()
	s.stab.mu.Lock()
	due := len(s.stab.due)
	s.stab.mu.Unlock()
	fmt.Fprintf(s.cfg.Progress, "soak: %v: %d writer ops, folder %d MiB; downloads %d exact, %d failed as the file changed, %d wrong; %d stable versions served; %d READs checked; rtpd RSS peak %d MiB; %d failures\n",
		ran.Round(time.Second), s.wr.ops(), s.book.size()>>20, s.cl.exact.Load(), s.cl.changed.Load(), s.cl.wrong.Load(), due, s.pr.reads.Load(), peak>>20, s.failCount())
}

func (s *soak) failCount() int {
	s.failMu.Lock()
	defer s.failMu.Unlock()
	return s.nfail
}
