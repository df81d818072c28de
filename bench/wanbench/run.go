package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// result is one run of one tool: a row of results.csv and results.json.
type result struct {
	Scenario string  `json:"scenario"`
	Cell     string  `json:"cell"`
	Tool     string  `json:"tool"`
	Run      int     `json:"run"`
	RTTms    string  `json:"rtt_ms"` // "100", or "20/100/300"
	LossPct  float64 `json:"loss_pct"`
	LinkMbit float64 `json:"link_mbit"` // aggregate
	CC       string  `json:"cc"`
	Size     int64   `json:"file_bytes"`
	// Outcome is ok (exit 0, exact file), capped (stopped at Cap; Mbit is
	// then an upper bound from the bytes the client received), failed
	// (exit status not 0) or corrupt (exit 0, wrong bytes).
	Outcome string  `json:"outcome"`
	Wall    float64 `json:"wall_s"` // start to exit
	Mbit    float64 `json:"mbit"`   // file bytes * 8 / wall; capped: received / cap
	PctLink float64 `json:"pct_link"`
	Wire    int64   `json:"wire_bytes"`  // IP bytes the client's devices received
	MaxRSS  int64   `json:"max_rss_kib"` // the tool's peak RSS (wait4)
	// From rtpget --json: payload bytes fetched (more than the file when
	// bytes were fetched twice) and retries summed over servers.
	Fetched int64 `json:"fetched_bytes,omitempty"`
	Retries int   `json:"retries,omitempty"`
	// Blackout: bytes received before the link went dark.
	BeforeBlackout int64  `json:"before_blackout_bytes,omitempty"`
	CCSeen         string `json:"cc_seen,omitempty"` // ss in the server namespaces, 2 s in
	// Packets the links dropped during the run, both ways: by the loss
	// asked for, by the router queue, and by the TUN devices because the
	// emulator fell behind (not meant; the figure is then the machine's).
	LossDrops   int64  `json:"loss_drops"`
	QueueDrops  int64  `json:"queue_drops"`
	DeviceDrops int64  `json:"device_drops"`
	Error       string `json:"error,omitempty"`
}

// argv is the command line of tool fetching f from servers 1..n into dir.
func argv(o *options, tool string, f *file, n int, dir string) []string {
	out := filepath.Join(dir, f.Name)
	switch tool {
	case "curl":
		// One connection to the first server (curl has no mirrors).
		return []string{"curl", "-sS", "--fail", "-o", out, f.httpURLs(1)[0]}
	case "aria2c":
		// -k 1M: aria2c splits only ranges of at least 20 MiB by default,
		// which would leave -s 8 unused on the smaller files.
		a := []string{"aria2c", "-x8", "-s8", "-k1M", "--file-allocation=none", "--allow-overwrite=true",
			"--auto-file-renaming=false", "--summary-interval=0", "--console-log-level=warn",
			"--download-result=hide", "-d", dir, "-o", f.Name}
		return append(append(a, o.aria2c...), f.httpURLs(n)...)
	default: // rtpget-tcp, rtpget-tls, rtpget-quic
		proto := strings.TrimPrefix(tool, "rtpget-")
		a := []string{o.rtpgetBin, "-q", "--json", "-k", "-o", out}
		return append(append(a, o.rtpget...), f.rtpURL(proto, n))
	}
}

// runOne runs tool once in cell c, bounded by c.Cap, and measures it.
func runOne(ctx context.Context, o *options, t *topo, c *cell, tool string, run int, f *file, outDir string) result {
	r := result{Scenario: c.Scenario, Cell: c.label(), Tool: tool, Run: run, LossPct: c.Loss * 100,
		LinkMbit: float64(c.rate()) / 1e6, CC: c.CC, Size: f.Size}
	r.RTTms = c.rtts()
	os.RemoveAll(outDir)
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		r.Outcome, r.Error = "failed", err.Error()
		return r
	}
	defer os.RemoveAll(outDir)

	cmd := exec.Command("ip", append([]string{"netns", "exec", nsClient}, argv(o, tool, f, len(c.Links), outDir)...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	rx0, c0 := t.rx(), t.counts()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		r.Outcome, r.Error = "failed", err.Error()
		return r
	}
	done := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(done) }()

	var side sideTasks
	if c.Blackout > 0 {
		side.goBlackout(t, c, rx0, done, &r.BeforeBlackout)
	}
	if tool != "rtpget-quic" {
		side.goCCSeen(ctx, t, done, &r.CCSeen)
	}

	capped := false
	var rxCap int64
	timer := time.NewTimer(c.Cap)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		capped, rxCap = true, t.rx()
		stopGroup(cmd, done)
	case <-ctx.Done():
		stopGroup(cmd, done)
	}
	r.Wall = time.Since(start).Seconds()
	side.wait()
	r.Wire = t.rx() - rx0
	d := t.counts().minus(c0)
	r.LossDrops, r.QueueDrops, r.DeviceDrops = d.loss, d.queue, d.device
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.MaxRSS = ru.Maxrss
	}
	if strings.HasPrefix(tool, "rtpget-") {
		r.Fetched, r.Retries = rtpgetSummary(stdout.Bytes())
	}
	switch {
	case ctx.Err() != nil:
		r.Outcome, r.Error = "failed", "interrupted"
	case capped:
		r.Outcome = "capped"
		r.Wall = c.Cap.Seconds()
		r.Mbit = float64(rxCap-rx0) * 8 / c.Cap.Seconds() / 1e6
	case waitErr != nil:
		r.Outcome, r.Error = "failed", fmt.Sprintf("%v: %s", waitErr, lastLines(stderr.String(), 2))
	default:
		sum, err := sha256File(filepath.Join(outDir, f.Name))
		switch {
		case err != nil:
			r.Outcome, r.Error = "failed", err.Error()
		case sum != f.SHA:
			r.Outcome, r.Error = "corrupt", "sha256 "+sum
		default:
			r.Outcome = "ok"
			r.Mbit = float64(f.Size) * 8 / r.Wall / 1e6
		}
	}
	r.PctLink = 100 * r.Mbit * 1e6 / float64(c.rate())
	return r
}

// stopGroup ends the tool's process group: SIGTERM (rtpget keeps its
// partial state), SIGKILL 3 s later, and waits for it.
func stopGroup(cmd *exec.Cmd, done <-chan struct{}) {
	syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// rtpgetSummary reads fetched_bytes and the servers' retries from rtpget's
// --json summary (the last JSON object it printed).
func rtpgetSummary(out []byte) (fetched int64, retries int) {
	i := bytes.LastIndex(out, []byte("\n{"))
	if i < 0 {
		i = bytes.IndexByte(out, '{') - 1
		if i < -1 {
			return 0, 0
		}
	}
	var s struct {
		Fetched int64 `json:"fetched_bytes"`
		Servers []struct {
			Retries int `json:"retries"`
		} `json:"servers"`
	}
	if json.Unmarshal(out[i+1:], &s) != nil {
		return 0, 0
	}
	for _, sv := range s.Servers {
		retries += sv.Retries
	}
	return s.Fetched, retries
}
