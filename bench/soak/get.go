package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// fetched is how one rtpget run ended.
type fetched struct {
	exit     int // -1: killed or not started
	timedOut bool
	out      string // its stderr and stdout (the --json summary)
	sum      [32]byte
	size     int64
	took     time.Duration
}

var dlSeq atomic.Int64

// download runs the real rtpget on raw into dir, hashes what it wrote, and
// removes it. It gives rtpget a minute plus 10 s per 100 MB.
func (s *soak) download(ctx context.Context, dir, raw string, length int64) fetched {
	limit := time.Minute + time.Duration(max(length, 0)/10e6)*time.Second
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	out := filepath.Join(dir, fmt.Sprintf("dl-%d", dlSeq.Add(1)))
	defer os.Remove(out)
	defer os.Remove(out + ".part")
	defer os.Remove(out + ".part.state")
	cmd := exec.CommandContext(ctx, s.rtpget, "-q", "--json", "-k", "--stall", "10s", "-o", out, raw)
	cmd.Env = s.env
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	start := time.Now()
	err := cmd.Run()
	f := fetched{exit: -1, took: time.Since(start), out: strings.TrimSpace(buf.String())}
	var ee *exec.ExitError
	switch {
	case err == nil:
		f.exit = 0
	case errors.As(err, &ee) && ee.Exited():
		f.exit = ee.ExitCode()
	}
	f.timedOut = errors.Is(ctx.Err(), context.DeadlineExceeded)
	if f.exit == 0 {
		fh, err := os.Open(out)
		if err != nil {
			f.exit, f.out = -1, "rtpget exited 0 but left no output file: "+err.Error()
			return f
		}
		h := sha256.New()
		f.size, err = io.Copy(h, fh)
		fh.Close()
		if err != nil {
			f.exit, f.out = -1, "reading rtpget's output: "+err.Error()
		}
		f.sum = [32]byte(h.Sum(nil))
	}
	return f
}

// outcome is the verdict on one download.
type outcome int

const (
	gotExact   outcome = iota // exit 0, bytes hash to the URL's sha256
	gotChanged                // exit 1: the file changed or went away meanwhile
	gotWrong                  // anything else: a failure of the soak
	gotStopped                // the soak ended under it
)

// judge says what a download of url (sha256 want, length n) ended as.
// changed reports whether the file the URL named was changed, moved or
// removed between the URL being handed out and the download's end.
func judge(ctx context.Context, f fetched, want [32]byte, n int64, changed bool) (outcome, string) {
	switch {
	case ctx.Err() != nil && f.exit != 0:
		return gotStopped, ""
	case f.timedOut:
		return gotWrong, fmt.Sprintf("rtpget did not end within %v: %s", f.took.Round(time.Second), firstLine(f.out))
	case f.exit == 0 && (f.sum != want || f.size != n):
		return gotWrong, fmt.Sprintf("rtpget exited 0 but wrote %d bytes with sha256 %x, the URL says %d bytes, %x", f.size, f.sum, n, want)
	case f.exit == 0:
		return gotExact, ""
	case f.exit == 1 && mismatch(f.out):
		return gotWrong, "rtpget received bytes or a tree that do not match the hash (bytes of a changed file?): " + firstLine(f.out)
	case f.exit == 1 && changed:
		return gotChanged, ""
	case f.exit == 1:
		return gotWrong, "rtpget failed though the file did not change: " + firstLine(f.out)
	}
	return gotWrong, fmt.Sprintf("rtpget exited %d: %s", f.exit, firstLine(f.out))
}

// mismatch reports whether rtpget's output says a server sent bytes (or a
// BLAKE3 tree) that do not match the URL's hash: rtpd must refuse to
// serve a file that changed, never send its new bytes.
func mismatch(out string) bool {
	for _, s := range []string{"do not match", "does not match"} {
		if strings.Contains(out, s) {
			return true
		}
	}
	return false
}

// firstLine is the first line of s that is not part of the JSON summary,
// else its first line.
func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.ContainsAny(l[:1], "{}[]\"") {
			return l
		}
	}
	l, _, _ := strings.Cut(s, "\n")
	return l
}
