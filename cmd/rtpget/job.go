package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/swarm"
)

// job is one rtpget download: NAME.part and NAME.part.state beside the final
// name, which appears only by rename after the swarm has verified the hash.
type job struct {
	url   *rtpurl.URL
	name  string // "-" for stdout
	log   *slog.Logger
	quiet bool
	json  bool
	// noBars turns the progress display off (downloads of a list at once).
	noBars bool
	// summarize, when set, takes the --json summary instead of a writer.
	summarize func(*swarm.Result)
	cfg       swarm.Config
}

func (j *job) run(ctx context.Context) error {
	if j.name == "-" {
		return j.toStdout(ctx)
	}
	part, state := j.name+".part", j.name+".part.state"
	f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if j.url.Length > 0 {
		if err := reserve(f, j.url.Length); err != nil {
			if fi, serr := f.Stat(); serr == nil && fi.Size() == 0 {
				// Nothing was downloaded yet; leave nothing behind.
				os.Remove(part)
				return fmt.Errorf("reserving %d bytes for %s: %w", j.url.Length, part, err)
			}
			return fmt.Errorf("reserving %d bytes for %s: %w; %s kept for resuming", j.url.Length, part, err, part)
		}
	}
	d := swarm.New(j.cfg)
	stop := j.showProgress(d)
	res, err := d.Run(ctx, f, state, nil)
	stop()
	j.summary(res, os.Stdout)
	switch {
	case errors.Is(err, swarm.ErrMismatch):
		// Known-bad bytes are no use to a rerun.
		os.Remove(state)
		os.Remove(part)
		return err
	case ctx.Err() != nil:
		return fmt.Errorf("interrupted; %s kept, run the same command again to resume", part)
	case err != nil:
		return fmt.Errorf("%w; %s kept for resuming", err, part)
	}
	if err := f.Truncate(res.Length); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(part, j.name); err != nil {
		return err
	}
	os.Remove(state)
	if dir, err := os.Open(filepath.Dir(j.name)); err == nil {
		dir.Sync()
		dir.Close()
	}
	if !j.quiet && !j.json {
		fmt.Fprintf(os.Stderr, "%s: %d bytes in %.1fs, verified %s\n", j.name, res.Length, res.Seconds, j.url.Hashes[0])
	}
	return nil
}

// toStdout spools to an unlinked temporary file (blocks arrive out of order)
// and streams the prefix to stdout as it is hashed. The bytes are verified
// only at the end: a mismatch exits 1 after they were written.
func (j *job) toStdout(ctx context.Context) error {
	f, err := os.CreateTemp("", "rtpget-*")
	if err != nil {
		return err
	}
	os.Remove(f.Name())
	defer f.Close()
	d := swarm.New(j.cfg)
	stop := j.showProgress(d)
	res, err := d.Run(ctx, f, "", os.Stdout)
	stop()
	j.summary(res, os.Stderr)
	return err
}

func (j *job) summary(res *swarm.Result, w io.Writer) {
	if !j.json || res == nil {
		return
	}
	if j.summarize != nil {
		j.summarize(res)
		return
	}
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	e.Encode(res)
}
