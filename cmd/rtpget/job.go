package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/swarm"
)

// job is one rtpget download: NAME.part and NAME.part.state beside the final
// name, which appears only by rename after the swarm has verified the hash.
// NAME.part is locked while it is written. What is at NAME already is never
// replaced unless it is a regular file and force is set; a file that already
// has the URL's hashes is left as it is and nothing is fetched. A device or
// FIFO named by -o is streamed into, like stdout.
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
	// fromURL: name comes from the URL (its dn or hash), not from -o; then
	// a device or FIFO of that name is refused, not written into.
	fromURL bool
	// force replaces a regular file at name whose bytes are not the URL's.
	force bool
}

func (j *job) run(ctx context.Context) error {
	if j.name == "-" {
		_, err := j.stream(ctx, os.Stdout, os.Stderr)
		return err
	}
	for tries := 0; ; tries++ {
		err := j.toFile(ctx)
		if errors.Is(err, errMoved) && tries < 3 {
			continue // another rtpget just finished: look at NAME again
		}
		return err
	}
}

func (j *job) toFile(ctx context.Context) error {
	o, err := findOutput(j.name, j.fromURL)
	if err != nil {
		return err
	}
	if o.stream() {
		return j.toDevice(ctx, o.path)
	}
	if o.fi != nil {
		if done, err := j.existing(ctx, o); done || err != nil {
			return err
		}
	}
	part, state := o.path+".part", o.path+".part.state"
	f, created, err := openPart(part)
	if err != nil {
		return err
	}
	defer f.Close()
	if o.fi == nil {
		// Under the lock, look again: another rtpget may have finished
		// this very file since the first look.
		if _, err := os.Lstat(o.path); err == nil {
			if created {
				os.Remove(part)
			}
			return errMoved
		}
	}
	if j.url.Length > 0 {
		if err := reserve(f, j.url.Length); err != nil {
			if fi, serr := f.Stat(); serr == nil && fi.Size() == 0 {
				// Nothing was downloaded yet; leave nothing behind.
				os.Remove(part)
				return fmt.Errorf("reserving %d bytes for %s: %w", j.url.Length, show(part), err)
			}
			return fmt.Errorf("reserving %d bytes for %s: %w; %s kept for resuming", j.url.Length, show(part), err, show(part))
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
		return fmt.Errorf("interrupted; %s kept, run the same command again to resume", show(part))
	case err != nil:
		return fmt.Errorf("%w; %s kept for resuming", err, show(part))
	}
	if err := f.Truncate(res.Length); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if !renameOpen {
		if err := f.Close(); err != nil {
			return err
		}
	}
	if err := j.rename(part, o); err != nil {
		return err
	}
	os.Remove(state)
	// Only now, with NAME in place and the state gone, the lock goes.
	if err := f.Close(); err != nil && renameOpen {
		return err
	}
	if dir, err := os.Open(filepath.Dir(o.path)); err == nil {
		dir.Sync()
		dir.Close()
	}
	if !j.quiet && !j.json {
		fmt.Fprintf(os.Stderr, "%s: %d bytes in %.1fs, verified %s\n", show(j.name), res.Length, res.Seconds, strings.Join(res.Verified, " "))
	}
	return nil
}

// existing decides about a regular file already at the output: done when it
// is the URL's file; an error when it is not and force is not set.
func (j *job) existing(ctx context.Context, o output) (done bool, err error) {
	why, err := j.differs(ctx, o.path, o.fi)
	if err != nil {
		return false, fmt.Errorf("checking the existing %s: %w", show(j.name), err)
	}
	if why == "" {
		j.complete(o.fi.Size())
		return true, nil
	}
	if !j.force {
		return false, fmt.Errorf("%s exists and is another file (%s): not replaced; --force replaces it, -o writes elsewhere", show(j.name), why)
	}
	j.log.Info("replacing an existing file (--force)", "file", o.path, "why", why)
	return false, nil
}

// rename gives the verified part its final name. Where nothing was, it never
// replaces what appeared there since; with --force over a file, that file
// must still be a regular one.
func (j *job) rename(part string, o output) error {
	if o.fi == nil {
		err := renameNew(part, o.path)
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s appeared during the download and is not replaced; the verified file is %s (rerun with --force to replace)", show(o.path), show(part))
		}
		return err
	}
	if fi, err := os.Lstat(o.path); err == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("%s changed into a %v during the download and is not replaced; the verified file is %s", show(o.path), fi.Mode().Type(), show(part))
	}
	return os.Rename(part, o.path)
}

// complete reports a file that was already there with the URL's hashes:
// nothing was fetched.
func (j *job) complete(n int64) {
	res := &swarm.Result{Length: n, Kept: n, Servers: []swarm.ServerResult{}}
	for _, h := range swarm.Checked(j.url, j.cfg.Verify) {
		res.Verified = append(res.Verified, h.String())
	}
	switch {
	case j.json && j.summarize != nil:
		j.summarize(res)
	case j.json:
		j.encode(os.Stdout, fileSummary{Result: res, AlreadyComplete: true})
	case !j.quiet:
		fmt.Fprintf(os.Stderr, "%s: already complete, %d bytes, verified %s; nothing fetched\n", show(j.name), n, strings.Join(res.Verified, " "))
	}
}

// fileSummary is the --json summary of one URL.
type fileSummary struct {
	*swarm.Result
	// AlreadyComplete: the output already had the URL's hashes.
	AlreadyComplete bool `json:"already_complete,omitempty"`
}

// toDevice streams into the device or FIFO at path.
func (j *job) toDevice(ctx context.Context, path string) error {
	w, err := openStream(ctx, path)
	if err != nil {
		return err
	}
	res, err := j.stream(ctx, w, os.Stdout)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing into %s: %w", show(j.name), err)
	}
	if !j.quiet && !j.json {
		fmt.Fprintf(os.Stderr, "%s: %d bytes in %.1fs, verified %s\n", show(j.name), res.Length, res.Seconds, strings.Join(res.Verified, " "))
	}
	return nil
}

// stream spools to an unlinked temporary file (blocks arrive out of order)
// and writes the prefix to w as it is hashed; the --json summary goes to
// sum. With a BLAKE3 tree every byte is checked before it reaches w;
// without one the bytes are verified only at the end: a mismatch exits 1
// after they were written.
func (j *job) stream(ctx context.Context, w io.Writer, sum io.Writer) (*swarm.Result, error) {
	f, err := os.CreateTemp("", "rtpget-*")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name())
	defer f.Close()
	d := swarm.New(j.cfg)
	stop := j.showProgress(d)
	res, err := d.Run(ctx, f, "", w)
	stop()
	j.summary(res, sum)
	return res, err
}

func (j *job) summary(res *swarm.Result, w io.Writer) {
	if !j.json || res == nil {
		return
	}
	if j.summarize != nil {
		j.summarize(res)
		return
	}
	j.encode(w, res)
}

func (j *job) encode(w io.Writer, v any) {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	e.Encode(v)
}
