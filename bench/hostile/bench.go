package main

import (
	"context"
	"fmt"
	"github.com/rtp-project/rtp/bench/internal/proc"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// Config is one run's settings.
type Config struct {
	Size      int64         // bytes of the served file
	Hostile   int           // hostile sessions
	Duration  time.Duration // of the hostile load; it lasts at least until the good download ends
	MaxRSSMiB int64         // rtpd's RSS must stay below this
	Window    int           // the good client's READs in flight
	ReadSize  int           // bytes per good READ
	Kinds     []string      // hostile kinds to run, by name; nil means all
	Pause     time.Duration // a hostile session's pause between connections
	Stall     time.Duration // a good READ that brings nothing for this long fails
	Log       io.Writer     // progress lines
	Verbose   bool          // copy rtpd's log to Log
}

// Result is what one run measured.
type Result struct {
	Config
	PID       int
	Kinds     []*kindStats
	HostileUp int           // hostile sessions connected when the good download began
	GoodAt    time.Duration // when it began, from the start of the load
	Good      goodResult
	LoadTime  time.Duration // how long the hostile load lasted

	RSS       proc.RSSSampler
	HWMIndex  int64 // VmHWM once indexed and listening, before the load
	HWMLoad   int64 // VmHWM at the end of the load, reset before it if resetErr is nil
	resetErr  error
	RSSEnd    int64
	statusErr error

	Alive     bool  // rtpd was running at the end of the load
	ExitErr   error // how it ended, if it died
	Fresh     time.Duration
	FreshErr  error // a new session's OPEN and READ at the end of the load
	LogLevels map[string]int
	LastLog   string
}

// Run builds rtpd, serves a Size-byte file with it, and downloads the file
// with a good client while Hostile sessions attack rtpd. A non-nil error
// means the run could not be set up; the verdict is Result.Failures.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	logf := func(format string, args ...any) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, format+"\n", args...)
		}
	}
	tmp, err := os.MkdirTemp("", "rtp-hostile-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	logf("building rtpd")
	bin, err := proc.BuildRTPD(ctx, tmp, os.Stderr)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(tmp, "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	logf("writing a %d-byte file", cfg.Size)
	sum, err := proc.WriteRandom(dir, cfg.Size)
	if err != nil {
		return nil, err
	}
	names, err := filepath.Glob(filepath.Join(dir, "blob-*.rand"))
	if err != nil || len(names) != 1 {
		return nil, fmt.Errorf("the file written: %v %v", names, err)
	}
	var verbose io.Writer
	if cfg.Verbose {
		verbose = cfg.Log
	}
	d, err := proc.StartRTPD(ctx, bin, dir, verbose)
	if err != nil {
		return nil, err
	}
	defer d.Kill()
	r := &Result{Config: cfg, PID: d.Pid()}
	logf("rtpd pid %d listening on %s", r.PID, d.Dial)
	if m, err := proc.Status(r.PID, "VmHWM"); err == nil {
		r.HWMIndex = m["VmHWM"]
	}
	r.resetErr = proc.ResetHWM(r.PID)

	sctx, stopSampling := context.WithCancel(ctx)
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		r.RSS.Run(sctx, r.PID, 100*time.Millisecond)
	}()
	defer func() { stopSampling(); <-sampled }()

	e := &env{addr: d.Dial.Address(), uri: "urn:sha256:" + sum, size: cfg.Size, pause: cfg.Pause}
	for i := range kinds {
		if cfg.Kinds == nil || slices.Contains(cfg.Kinds, kinds[i].name) {
			r.Kinds = append(r.Kinds, &kindStats{kind: &kinds[i]})
		}
	}
	if len(r.Kinds) == 0 {
		return nil, fmt.Errorf("no hostile kind among %q", cfg.Kinds)
	}
	hctx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var wg sync.WaitGroup
	var mu sync.Mutex
	up := 0
	allUp := make(chan struct{})
	start := time.Now()
	for i := range cfg.Hostile {
		st := r.Kinds[i%len(r.Kinds)]
		st.sessions++
		wg.Add(1)
		go func() {
			defer wg.Done()
			runSession(hctx, e, st, i, i/len(r.Kinds), func() {
				mu.Lock()
				defer mu.Unlock()
				if up++; up == cfg.Hostile {
					close(allUp)
				}
			})
		}()
	}
	logf("%d hostile sessions starting", cfg.Hostile)
	select {
	case <-allUp:
	case <-time.After(5 * time.Second):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	sleep(ctx, 500*time.Millisecond) // let the load build up
	mu.Lock()
	r.HostileUp = up
	mu.Unlock()
	r.GoodAt = time.Since(start)
	logf("good download starting, %d hostile sessions connected", r.HostileUp)
	r.Good = download(ctx, d.Dial, sum, cfg.Size, cfg.Window, cfg.ReadSize, cfg.Stall)
	logf("good download: %d bytes in %v, err %v", r.Good.Bytes, r.Good.Elapsed.Round(time.Millisecond), r.Good.Err)
	sleep(ctx, cfg.Duration-time.Since(start))

	r.Alive = d.Alive()
	if r.Alive {
		r.Fresh, r.FreshErr = freshOpen(ctx, d.Dial, sum, names[0])
	} else {
		r.FreshErr = fmt.Errorf("rtpd is gone")
	}
	stopLoad()
	wg.Wait()
	r.LoadTime = time.Since(start)
	logf("hostile load stopped after %v", r.LoadTime.Round(time.Millisecond))
	if m, err := proc.Status(r.PID, "VmHWM", "VmRSS"); err == nil {
		r.HWMLoad, r.RSSEnd = m["VmHWM"], m["VmRSS"]
	} else {
		r.statusErr = err
	}
	r.Alive = r.Alive && d.Alive()
	stopSampling()
	<-sampled
	if !d.Alive() {
		r.ExitErr = d.ExitErr()
	}
	r.LogLevels = d.LogLevels()
	r.LastLog = d.LastLines()
	return r, nil
}

// PeakRSS is the larger of the sampled peak and VmHWM under load.
func (r *Result) PeakRSS() int64 { return max(r.RSS.Peak, r.HWMLoad) }

// Failures lists the acceptance checks the run failed.
func (r *Result) Failures() []string {
	var f []string
	switch {
	case r.Good.Err != nil:
		f = append(f, fmt.Sprintf("good download failed after %d bytes: %v", r.Good.Bytes, r.Good.Err))
	case !r.Good.HashOK || r.Good.Bytes != r.Size:
		f = append(f, fmt.Sprintf("good download: %d bytes, hash ok %v", r.Good.Bytes, r.Good.HashOK))
	}
	if !r.Alive {
		f = append(f, fmt.Sprintf("rtpd died: %v", r.ExitErr))
	} else if r.FreshErr != nil {
		f = append(f, fmt.Sprintf("rtpd took no fresh session at the end: %v", r.FreshErr))
	}
	if r.statusErr != nil || r.RSS.Samples == 0 {
		f = append(f, fmt.Sprintf("rtpd's memory could not be read: %v %v", r.statusErr, r.RSS.FirstErr))
	}
	if r.PeakRSS() >= r.MaxRSSMiB<<20 {
		f = append(f, fmt.Sprintf("rtpd's RSS reached %.1f MiB, limit %d MiB", mib(r.PeakRSS()), r.MaxRSSMiB))
	}
	return f
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }
