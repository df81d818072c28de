package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// version is one content of one path, from one operation on (the same
// bytes may come back: a truncation and an append of the same length).
type version struct {
	path    string
	sum     [32]byte
	touched time.Time
}

// stableStats are the stability checker's findings.
type stableStats struct {
	mu         sync.Mutex
	rounds     int
	firstSeen  map[version]time.Duration // how long it stood still when first seen served
	due        map[version]bool          // found served once due
	reported   map[version]bool          // found not served once due
	stale      map[string]bool           // path@time listed after it was gone
	queued     map[version]bool
	dlExact    int
	dlChanged  int
	dlWrong    int
	worstLate  time.Duration // longest a due file waited unserved (still unserved at the end included)
	worstPath  string
	worstDelay time.Duration // longest wait before first seen served
}

func newStableStats() *stableStats {
	return &stableStats{firstSeen: make(map[version]time.Duration), due: make(map[version]bool),
		reported: make(map[version]bool), stale: make(map[string]bool), queued: make(map[version]bool)}
}

type stableJob struct {
	version
	url  string
	size int64
}

// stability checks, twice a rescan period, that every file the writer has
// left alone for two rescan periods (not counting the time rtpd spent
// hashing meanwhile, which a file may wait behind) is listed by the HTTP
// face with the sha256 of its content, and downloads each such version
// once; and that a file gone as long is no longer listed.
func (s *soak) stability(ctx context.Context) {
	jobs := make(chan stableJob, 16)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.stableDownloads(ctx, jobs)
	}()
	defer wg.Wait()
	defer close(jobs)
	tick := time.NewTicker(max(s.cfg.Rescan/2, 250*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		before, _ := s.book.views()
		lst, err := listing(ctx, s.httpAddr)
		if err != nil {
			if ctx.Err() == nil {
				s.failNet(ctx, "stable: HTTP face's page: "+err.Error())
			}
			continue
		}
		now := time.Now()
		after, gone := s.book.views()
		s.checkRound(now, before, after, gone, lst, jobs)
	}
}

func (s *soak) checkRound(now time.Time, before, after map[string]view, gone map[string]time.Time, lst map[string]listed, jobs chan<- stableJob) {
	st := s.stab
	st.mu.Lock()
	defer st.mu.Unlock()
	st.rounds++
	due := 2*s.cfg.Rescan + time.Second
	busyNow := s.clock.busyNow()
	for p, v := range after {
		b, ok := before[p]
		if !ok || v.busy || b.busy || b.touched != v.touched {
			continue
		}
		ver := version{p, v.sum, v.touched}
		still := now.Sub(v.touched)
		hashing := busyNow - s.clock.busyAt(v.touched)
		isDue := still-hashing >= due || still >= due+s.cfg.MaxWait
		e, isListed := lst[p]
		if isListed && e.sha256 == v.sum {
			if _, seen := st.firstSeen[ver]; !seen {
				st.firstSeen[ver] = still
				if still > st.worstDelay {
					st.worstDelay = still
				}
			}
			if isDue && !st.due[ver] {
				st.due[ver] = true
			}
			if isDue && !st.queued[ver] {
				select {
				case jobs <- stableJob{ver, e.url, e.size}:
					st.queued[ver] = true
				default: // the downloader is busy; next round
				}
			}
			continue
		}
		if !isDue {
			continue
		}
		if still > st.worstLate {
			st.worstLate, st.worstPath = still, p
		}
		if st.reported[ver] {
			continue
		}
		st.reported[ver] = true
		what := "not listed"
		if isListed {
			what = fmt.Sprintf("listed with sha256 %x (%d bytes)", e.sha256, e.size)
		}
		s.fail(fmt.Sprintf("stable: %q (%d bytes, sha256 %x) stood still for %v (rtpd hashing for %v of it) and is %s",
			p, v.size, v.sum, still.Round(time.Millisecond), hashing.Round(time.Millisecond), what))
	}
	for p, t := range gone {
		if _, back := after[p]; back {
			continue
		}
		if _, isListed := lst[p]; !isListed {
			continue
		}
		still := now.Sub(t)
		hashing := busyNow - s.clock.busyAt(t)
		key := fmt.Sprintf("%s@%d", p, t.UnixNano())
		if (still-hashing >= due || still >= due+s.cfg.MaxWait) && !st.stale[key] {
			st.stale[key] = true
			s.fail(fmt.Sprintf("stable: %q is still listed %v after it was deleted or renamed away (rtpd hashing for %v of it)",
				p, still.Round(time.Millisecond), hashing.Round(time.Millisecond)))
		}
	}
}

// stableDownloads downloads each version the checker found served once
// due, and checks the bytes.
func (s *soak) stableDownloads(ctx context.Context, jobs <-chan stableJob) {
	dir := filepath.Join(s.tmp, "stable")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		s.fail("stable: " + err.Error())
		return
	}
	for j := range jobs {
		if ctx.Err() != nil {
			continue
		}
		f := s.download(ctx, dir, j.url, j.size)
		after, _ := s.book.views()
		a, ok := after[j.path]
		changed := !ok || a.busy || a.touched != j.touched
		o, why := judge(ctx, f, j.sum, j.size, changed)
		s.stab.mu.Lock()
		switch o {
		case gotExact:
			s.stab.dlExact++
		case gotChanged:
			s.stab.dlChanged++
		case gotWrong:
			s.stab.dlWrong++
		}
		s.stab.mu.Unlock()
		if o == gotWrong {
			s.fail(fmt.Sprintf("stable: download of %q (%d bytes, %x): %s", j.path, j.size, j.sum, why))
		}
	}
}

// delays returns the median and longest time files stood still before
// they were first seen served.
func (s *stableStats) delays() (median, worst time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ds []time.Duration
	for _, d := range s.firstSeen {
		ds = append(ds, d)
	}
	if len(ds) == 0 {
		return 0, 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2], ds[len(ds)-1]
}
