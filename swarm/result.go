package swarm

import (
	"time"
)

// Result summarises a download, for --json and tests.
type Result struct {
	Length   int64          `json:"length"`
	Kept     int64          `json:"kept_bytes"` // bytes kept from an earlier run
	Elapsed  time.Duration  `json:"-"`
	Seconds  float64        `json:"elapsed_seconds"`
	Fetched  int64          `json:"fetched_bytes"`    // payload bytes received, all servers
	Rate     float64        `json:"bytes_per_second"` // fetched bytes over elapsed time
	Servers  []ServerResult `json:"servers"`
	Verified []string       `json:"verified,omitempty"` // urns that matched
	Repaired int            `json:"repaired_blocks,omitempty"`
	TreeFrom string         `json:"tree_from,omitempty"` // the server whose BLAKE3 tree checked bytes on arrival
}

// ServerResult is one server's part.
type ServerResult struct {
	Server string `json:"server"`
	Bytes  int64  `json:"bytes"`           // payload bytes received
	Dup    int64  `json:"duplicate_bytes"` // of which endgame copies
	// Verified counts its bytes that matched the BLAKE3 tree on arrival
	// (endgame copies that lost a race included); with a tree, no other
	// byte of it reaches the output.
	Verified int64     `json:"verified_bytes"`
	Rate     float64   `json:"bytes_per_second"`
	Retries  int       `json:"retries"`
	State    PeerState `json:"state"`
	// RetryIn is the delay before its next session while State is
	// StateRetrying.
	RetryIn        time.Duration `json:"-"`
	RetryInSeconds float64       `json:"retry_in_seconds,omitempty"`
	Banned         bool          `json:"banned"`
	Why            string        `json:"why,omitempty"`

	// The path to it, as the swarm measured and steered it: its rate over
	// the last few round trips (Rate is the average over the download),
	// the shortest round trip a READ took to its first byte, the READs
	// its sessions may keep in flight in all, and its sessions.
	Measured float64   `json:"measured_bytes_per_second"`
	RTT      float64   `json:"rtt_ms"`
	Window   int       `json:"window"`
	Sessions int       `json:"sessions"`
	Path     PathState `json:"path"`
}

// Progress is a live snapshot for a progress display.
type Progress struct {
	Length  int64 // -1 while probing
	Done    int64
	Elapsed time.Duration
	Servers []ServerResult
}

// Progress returns a snapshot; safe to call while Run runs.
func (d *Download) Progress() Progress {
	p := Progress{Length: d.length, Elapsed: time.Since(d.start)}
	if d.plan != nil && d.length >= 0 {
		p.Done = d.plan.progress()
	}
	p.Servers = d.serverResults()
	return p
}

func (d *Download) serverResults() []ServerResult {
	secs := time.Since(d.start).Seconds()
	var out []ServerResult
	for _, p := range d.peers {
		p.mu.Lock()
		r := ServerResult{
			Server:   p.dial.String(),
			Bytes:    p.bytes.Load(),
			Dup:      p.dupBytes.Load(),
			Verified: p.verified.Load(),
			Retries:  p.retries,
			State:    p.state,
			RetryIn:  p.retryIn,
			Banned:   p.state == StateBanned,
			Why:      p.why,
			Measured: p.measured,
			Sessions: p.want,
			Path:     p.pathLocked(),
		}
		var rtt time.Duration
		for _, f := range p.flows {
			r.Window += f.window
			if f.minRTT > 0 && (rtt == 0 || f.minRTT < rtt) {
				rtt = f.minRTT
			}
		}
		r.RTT = float64(rtt.Microseconds()) / 1000
		if l := p.limit.Load(); l > 0 {
			r.Window = min(r.Window, int(l))
		}
		p.mu.Unlock()
		r.RetryInSeconds = r.RetryIn.Seconds()
		if secs > 0 {
			r.Rate = float64(r.Bytes) / secs
		}
		out = append(out, r)
	}
	return out
}

func (d *Download) result() *Result {
	r := &Result{Length: d.length, Kept: d.kept, Elapsed: time.Since(d.start), Repaired: d.repaired, TreeFrom: d.treeFrom}
	r.Seconds = r.Elapsed.Seconds()
	r.Servers = d.serverResults()
	for _, s := range r.Servers {
		r.Fetched += s.Bytes
	}
	if r.Seconds > 0 {
		r.Rate = float64(r.Fetched) / r.Seconds
	}
	return r
}
