package swarm

import (
	"context"
	"fmt"
	"time"
)

// PathState is what the swarm makes of a server's path, for --json.
type PathState uint8

// Path states.
const (
	// PathStartup: a session of it is still doubling its window.
	PathStartup PathState = iota
	// PathSteady: its windows follow its bandwidth-delay product.
	PathSteady
	// PathSlow: it gave less than a slowShare of the best path's rate,
	// and keeps one READ in flight until it is probed again.
	PathSlow
	// PathProbing: a slow path given its windows back for a while, to
	// measure it again.
	PathProbing
)

var pathStateNames = [...]string{PathStartup: "startup", PathSteady: "steady", PathSlow: "slow", PathProbing: "probing"}

func (s PathState) String() string {
	if int(s) < len(pathStateNames) {
		return pathStateNames[s]
	}
	return "unknown"
}

// MarshalText makes a path state its name in JSON.
func (s PathState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a path state's name, for a --json summary read back.
func (s *PathState) UnmarshalText(b []byte) error {
	for i, n := range pathStateNames {
		if n == string(b) {
			*s = PathState(i)
			return nil
		}
	}
	return fmt.Errorf("unknown path state %q", b)
}

const (
	steerEvery = 250 * time.Millisecond // how often the paths are measured
	// slowShare: a path whose rate is below the best one's over this is
	// slow when the URL lists several.
	slowShare = 8
	// slowProbeEvery is how often a slow path gets its windows back, for
	// max(slowProbeFor, two measuring periods).
	slowProbeEvery = 10 * time.Second
	slowProbeFor   = 2 * time.Second
	// slowConfirm: a path is held slow once it has measured slow for this
	// many periods in a row.
	slowConfirm = 2
	// A session added to a server stays if the server's rate grew by more
	// than addGain; otherwise one is retired, and adding is tried again
	// after addRetry or when the rate over two periods falls by a quarter.
	addGain  = 1.12
	addRetry = 30 * time.Second
	// trialPeriods is how long a trial runs; the rates compared are those
	// of two periods, before it and at its end: on a long path one
	// period's rate swings by half or more with the bursts a congestion
	// window sends, which one period's comparison took for a gain.
	trialPeriods = 3
	// lanRTT: on a path with a shorter round trip a single connection
	// recovers from loss at once, and more sessions only cost CPU.
	lanRTT = 5 * time.Millisecond
)

type addPhase uint8

const (
	addSettle addPhase = iota // waiting for the windows to settle, then adds one
	addTrial                  // one added: is the server faster?
	addHeld                   // the last one did not help
)

// pathCtl is a peer's measurements and decisions; only the run loop's
// goroutine touches it.
type pathCtl struct {
	samples []rateSample
	phase   addPhase
	base    float64   // the rate before the last session was added, or when adding stopped
	changed time.Time // when the session count last changed
	// path is PathSlow or PathProbing while steer holds the path slow,
	// else zero; setPath publishes it.
	path    PathState
	probeAt time.Time // slow: when its windows are given back; probing: when the probe ends
	// The rate a period ago, and whether it has grown by a quarter since:
	// a server still speeding up by itself (TCP's start-up) is not tried
	// with another session, whose trial would credit it with that growth,
	// nor held slow: a 300 ms path ramps up for seconds after a 20 ms one
	// has filled its link, and one READ in flight would keep it slow.
	prevRate float64
	prevAt   time.Time
	growing  bool
	loggedAt time.Time // of the last debug line
	lowSince time.Time // since when every measurement has been slow, or zero
}

// track compares the rate with the one a period ago. Until two periods
// have been measured the path counts as growing.
func (c *pathCtl) track(rate float64, now time.Time, per time.Duration) {
	if c.prevAt.IsZero() {
		c.growing, c.prevRate, c.prevAt = true, rate, now
		return
	}
	if now.Sub(c.prevAt) >= per {
		c.growing = rate > c.prevRate*startupGrowth
		c.prevRate, c.prevAt = rate, now
	}
}

// slow reports whether steer holds the path slow, probing it or not.
func (c *pathCtl) slow() bool { return c.path == PathSlow || c.path == PathProbing }

type rateSample struct {
	at    time.Time
	bytes int64
}

// period is how long a peer's rate is measured over: four round trips,
// between 1 and 5 s.
func (p *peer) period() time.Duration {
	return min(max(4*p.minRTT(), time.Second), 5*time.Second)
}

// measure adds a sample and returns the rate over the last period, and
// whether a whole period is covered. Samples stay for two periods, for the
// sessions' trials (rateOver).
func (p *peer) measure(now time.Time) (float64, bool) {
	c := &p.ctl
	c.samples = append(c.samples, rateSample{now, p.bytes.Load()})
	per := p.period()
	// Keep one sample older than two periods and drop the rest before it.
	for len(c.samples) > 2 && now.Sub(c.samples[1].at) >= 2*per {
		c.samples = c.samples[1:]
	}
	return c.rateOver(per)
}

// rateOver returns the rate over the last span, from the newest sample at
// least span old (or the oldest there is), and whether span is covered.
func (c *pathCtl) rateOver(span time.Duration) (float64, bool) {
	last := c.samples[len(c.samples)-1]
	first := c.samples[0]
	for i := len(c.samples) - 2; i > 0; i-- {
		if last.at.Sub(c.samples[i].at) >= span {
			first = c.samples[i]
			break
		}
	}
	d := last.at.Sub(first.at)
	if d <= 0 {
		return 0, false
	}
	return float64(last.bytes-first.bytes) / d.Seconds(), d >= span
}

// steer measures every server's rate and moves work: a path much slower
// than the best keeps one READ in flight, and is given its windows back
// now and then to be measured again; a server whose rate grows with each
// session added gets another, up to the caps.
func (d *Download) steer(ctx context.Context, now time.Time) {
	rates := make([]float64, len(d.peers))
	full := make([]bool, len(d.peers))
	best := 0.0
	live := 0
	for i, p := range d.peers {
		if p.isGone() {
			continue
		}
		live++
		rates[i], full[i] = p.measure(now)
		if full[i] {
			p.ctl.track(rates[i], now, p.period())
		}
		p.mu.Lock()
		p.measured = rates[i]
		p.mu.Unlock()
		if full[i] && !p.ctl.slow() {
			best = max(best, rates[i])
		}
	}
	// With every block done or in flight, a fast path idles while the
	// rest arrive: its rate says nothing of the others.
	spare := !d.plan.assignedAll()
	total := 0
	for _, p := range d.peers {
		p.mu.Lock()
		total += p.want
		p.mu.Unlock()
	}
	for i, p := range d.peers {
		if p.isGone() {
			continue
		}
		c := &p.ctl
		switch {
		case c.path == PathProbing && !now.Before(c.probeAt):
			if full[i] && rates[i]*slowShare >= best {
				p.setPath(PathSteady)
				d.log.Info("path no longer slow", "server", p.dial, "rate", int64(rates[i]))
			} else {
				c.probeAt = now.Add(slowProbeEvery)
				p.setPath(PathSlow)
			}
		case c.path == PathSlow && !now.Before(c.probeAt):
			c.samples = c.samples[len(c.samples)-1:]
			c.probeAt = now.Add(max(slowProbeFor, 2*p.period()))
			p.setPath(PathProbing)
			d.plan.nudge()
		case !c.slow() && !c.growing && spare && live > 1 && full[i] && best > 0 && rates[i]*slowShare < best:
			// Slow in every measurement for two periods, not in one:
			// on a long path bytes come in bursts (a congestion
			// window's worth a round trip, or a socket buffer drained
			// at once after a busy moment), and one period between
			// two bursts looks slow.
			if c.lowSince.IsZero() {
				c.lowSince = now
			}
			if now.Sub(c.lowSince) < slowConfirm*p.period() {
				break
			}
			c.lowSince = time.Time{}
			c.probeAt = now.Add(slowProbeEvery)
			p.setPath(PathSlow)
			d.log.Info("path slow: one READ in flight", "server", p.dial, "rate", int64(rates[i]), "best", int64(best))
		default:
			c.lowSince = time.Time{}
		}
		if !c.slow() && full[i] {
			total += d.addSessions(ctx, p, rates[i], total, now)
		}
		if full[i] && now.Sub(c.loggedAt) >= p.period() {
			c.loggedAt = now
			p.mu.Lock()
			want := p.want
			p.mu.Unlock()
			d.log.Debug("path", "server", p.dial, "rate", int64(rates[i]), "growing", c.growing, "path", c.path,
				"sessions", want, "phase", c.phase, "inflight", p.inflight.Load(), "all_inflight", d.inflight.Load(), "cap", d.capReads)
		}
	}
}

// setPath records what steer makes of the path (PathSteady, PathSlow or
// PathProbing), for steer and, under p.mu, for the summary; a slow path's
// sessions keep one READ in flight between them.
func (p *peer) setPath(s PathState) {
	p.ctl.path = s
	if s == PathSlow {
		p.limit.Store(1)
	} else {
		p.limit.Store(0)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.slowPath = s
}

// addSessions runs a server's session count one step, and returns the
// change.
func (d *Download) addSessions(ctx context.Context, p *peer, rate float64, total int, now time.Time) int {
	c := &p.ctl
	per := p.period()
	p.mu.Lock()
	want, inStartup := p.want, p.pathLocked() == PathStartup
	p.mu.Unlock()
	if p.minRTT() < lanRTT || inStartup {
		return 0
	}
	switch c.phase {
	case addHeld:
		// A drop must last: one period's dip (a burst late, the machine
		// busy) starts no trial.
		if long, ok := c.rateOver(2 * per); now.Sub(c.changed) < addRetry && (!ok || long >= c.base*3/4) {
			return 0
		}
		c.phase, c.changed = addSettle, now
		return 0
	case addTrial:
		if now.Sub(c.changed) < trialPeriods*per {
			return 0
		}
		// The trial's last two periods, after the new session's start.
		rate, _ = c.rateOver(2 * per)
		if rate > c.base*addGain {
			d.log.Info("session added: server faster", "server", p.dial, "sessions", want, "rate", int64(rate), "before", int64(c.base))
			c.phase, c.changed = addSettle, now
			return 0
		}
		c.phase, c.changed, c.base = addHeld, now, rate
		if want > d.cfg.Sessions {
			p.mu.Lock()
			p.want--
			p.mu.Unlock()
			d.log.Info("session added: server no faster; retiring one", "server", p.dial, "sessions", want-1, "rate", int64(rate))
			d.plan.nudge()
			return -1
		}
		return 0
	}
	// addSettle: two periods without a change, their rate the base.
	if now.Sub(c.changed) < 2*per || c.growing || want >= d.cfg.MaxSessions || total >= d.maxTotal ||
		d.inflight.Load()+int64(d.cfg.Window) > int64(d.capReads) {
		return 0
	}
	// A session added now would still be in TCP's start-up when the
	// blocks left run out, holding some of the last ones at a fraction of
	// the rate the warm sessions would fetch them at: on a 300 ms path
	// such a session made the last 2-3 s of a 716 MiB download.
	if rate > 0 && float64(d.plan.unassigned()) < rate*(trialPeriods+2)*per.Seconds() {
		return 0
	}
	if !p.spawn(ctx) {
		return 0
	}
	if long, ok := c.rateOver(2 * per); ok {
		rate = long
	}
	c.phase, c.changed, c.base = addTrial, now, rate
	return 1
}
