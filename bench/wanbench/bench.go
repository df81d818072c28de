package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// run sets everything up, runs every cell of the plan, writes the results
// after each cell, and removes everything but the results on every exit.
func run(ctx context.Context, o *options) (err error) {
	cells := plan(o)
	lf, err := lock()
	if err != nil {
		return err
	}
	defer lf.Close()
	if o.out == "" {
		if o.out, err = os.MkdirTemp("", "wanbench-results."); err != nil {
			return err
		}
	}
	logs := filepath.Join(o.out, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return err
	}
	logFile, err := os.OpenFile(filepath.Join(o.out, "log.txt"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	logw := io.MultiWriter(os.Stderr, logFile)
	logf := func(format string, args ...any) {
		fmt.Fprintf(logw, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	}
	defer logf("results in %s", o.out)

	tmp, err := os.MkdirTemp("", "wanbench.")
	if err != nil {
		return err
	}
	if o.keep {
		defer logf("kept %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	// nginx's workers run as nobody: the path to the files must be open.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := installMissing(ctx, o.tools, logf); err != nil {
		return err
	}
	if err := buildBins(ctx, o, tmp, logf); err != nil {
		return err
	}

	var guess time.Duration
	nServers := 1
	files := map[int64]*file{}
	data := filepath.Join(tmp, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return err
	}
	for _, c := range cells {
		g, _ := estimate(c)
		guess += g
		nServers = max(nServers, len(c.Links))
		if files[c.Size] == nil {
			logf("writing %d MiB of random bytes", c.Size>>20)
			if files[c.Size], err = makeFile(data, c.Size); err != nil {
				return err
			}
			if err := files[c.Size].addURL(ctx, o.rtpdBin, o.urlHash); err != nil {
				return err
			}
		}
	}
	logf("%d cells, estimated %s", len(cells), guess.Round(time.Minute))

	t := &topo{log: logf}
	defer t.close()
	if err := t.up(ctx, nServers); err != nil {
		return err
	}
	if err := startServers(ctx, t, nServers, o.rtpdBin, tmp, data, o.rtpd, logs); err != nil {
		return err
	}
	rep, err := newReport(o, cells)
	if err != nil {
		return err
	}
	defer rep.close()
	if err := writeEnv(ctx, o, filepath.Join(o.out, "env.txt")); err != nil {
		return err
	}

	outDir := filepath.Join(tmp, "out")
	for ci, c := range cells {
		for i, l := range c.Links {
			t.set(i+1, l, c.Loss)
			if err := t.congctl(ctx, i+1, c.CC); err != nil {
				return err
			}
		}
		logf("cell %d/%d: %s %s, %d MiB, ideal %.1fs, cap %.0fs", ci+1, len(cells), c.Scenario, c.label(),
			c.Size>>20, c.ideal().Seconds(), c.Cap.Seconds())
		for run := 1; run <= c.Runs; run++ {
			for _, tool := range c.Tools {
				r := runOne(ctx, o, t, c, tool, run, files[c.Size], outDir)
				if ctx.Err() != nil {
					return ctx.Err()
				}
				rep.add(r)
				logf("  %-12s run %d: %-7s %6.1fs %7.1f Mbit/s %5.1f%% of link  rss %d MiB%s%s", tool, run, r.Outcome,
					r.Wall, r.Mbit, r.PctLink, r.MaxRSS>>10, ifSet(" cc ", r.CCSeen), ifSet(" ", r.Error))
				// Let the queues drain and the servers see the close.
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(time.Second):
				}
			}
		}
		if err := rep.write(); err != nil {
			return err
		}
	}
	return rep.plot(ctx, logf)
}

func ifSet(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}

// installMissing installs, from the distribution, the servers and clients
// the tools need.
func installMissing(ctx context.Context, tools []string, logf func(string, ...any)) error {
	need := map[string]string{"nginx": "nginx", "curl": "curl", "ss": "iproute2"}
	if slices.Contains(tools, "aria2c") {
		need["aria2c"] = "aria2"
	}
	var pkgs []string
	for cmd, pkg := range need {
		if _, err := exec.LookPath(cmd); err != nil {
			pkgs = append(pkgs, pkg)
		}
	}
	return aptInstall(ctx, pkgs, logf)
}

func aptInstall(ctx context.Context, pkgs []string, logf func(string, ...any)) error {
	if len(pkgs) == 0 {
		return nil
	}
	logf("installing %s", strings.Join(pkgs, " "))
	if out, err := exec.CommandContext(ctx, "apt-get", "update", "-qq").CombinedOutput(); err != nil {
		return fmt.Errorf("apt-get update: %v: %s", err, lastLines(string(out), 3))
	}
	cmd := exec.CommandContext(ctx, "apt-get", append([]string{"install", "-y", "-qq"}, pkgs...)...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("apt-get install %s: %v: %s", strings.Join(pkgs, " "), err, lastLines(string(out), 3))
	}
	return nil
}

// buildBins builds rtpd and rtpget from the tree this runs in, unless -bin
// names a folder that has them.
func buildBins(ctx context.Context, o *options, tmp string, logf func(string, ...any)) error {
	dir := o.bin
	if dir == "" {
		dir = filepath.Join(tmp, "bin")
		logf("building rtpd and rtpget")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", dir+"/",
			"github.com/rtp-project/rtp/cmd/rtpd", "github.com/rtp-project/rtp/cmd/rtpget")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %v: %s", err, lastLines(string(out), 5))
		}
	}
	o.rtpdBin, o.rtpgetBin = filepath.Join(dir, "rtpd"), filepath.Join(dir, "rtpget")
	for _, b := range []string{o.rtpdBin, o.rtpgetBin} {
		if _, err := os.Stat(b); err != nil {
			return fmt.Errorf("-bin: %w", err)
		}
	}
	var err error
	if o.rtpdBin, err = filepath.Abs(o.rtpdBin); err != nil {
		return err
	}
	o.rtpgetBin, err = filepath.Abs(o.rtpgetBin)
	return err
}
