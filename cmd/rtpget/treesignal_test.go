package main

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rtp-project/rtp/internal/rtpdtest"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/urn"
)

// TestTreeInterrupted: Ctrl-C (SIGINT) while a tree downloads, with most
// files placed and one held by its server: rtpget exits 130 with one line
// saying so, the placed files and the state stay, and the same command
// then fetches only the files not placed and leaves the tree exact.
func TestTreeInterrupted(t *testing.T) {
	src := newSrcTree(t)
	ps := src.randomFiles(t, "d", 30, 64<<10, 7)
	held := ps[11]
	u := src.manifest(t, "sig")
	e := entryOf(held, src.files[held], false)
	g := gateStore{only: urn.New(urn.BLAKE3, e.BLAKE3), reading: make(chan struct{}), release: make(chan struct{}), once: new(sync.Once)}
	d, _ := rtpdtest.ServeInProcess(t, src.served, func(o store.Opener) store.Opener { g.Opener = o; return g })
	var release sync.Once
	t.Cleanup(func() { release.Do(func() { close(g.release) }) })
	c := *u
	c.Servers = []rtpurl.Dial{d}
	url := c.String()
	out := t.TempDir()
	target := filepath.Join(out, "sig")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, rtpdtest.RTPGet, "-k", "-C", out, url)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	// Wait until most files are placed (the placer renames in batches),
	// polling the target; the held file cannot be, nor, while its read
	// holds the server's session, the files behind it on that session.
	placed := func() map[string]bool {
		got := map[string]bool{}
		filepath.WalkDir(target, func(p string, de fs.DirEntry, err error) error {
			if err == nil && de.IsDir() && de.Name() == stateDir {
				return filepath.SkipDir
			}
			if err == nil && de.Type().IsRegular() {
				rel, _ := filepath.Rel(target, p)
				got[filepath.ToSlash(rel)] = true
			}
			return nil
		})
		return got
	}
	for len(placed()) < len(ps)/2 {
		select {
		case <-exited:
			t.Fatalf("rtpget exited %d before the signal: %s", cmd.ProcessState.ExitCode(), stderr.String())
		case <-ctx.Done():
			t.Fatalf("%d of %d files placed within a minute", len(placed()), len(ps))
		case <-time.After(20 * time.Millisecond):
		}
	}
	<-g.reading
	cmd.Process.Signal(syscall.SIGINT)
	<-exited
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("exit %d after SIGINT, want 130; stderr %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "interrupted") || strings.Count(strings.TrimSpace(stderr.String()), "\n") != 0 {
		t.Errorf("stderr %q: want one line saying it was interrupted", stderr.String())
	}
	kept := placed()
	if kept[held] {
		t.Errorf("the held file %s exists after the interruption", held)
	}
	if _, err := os.Stat(filepath.Join(target, stateDir, "state.json")); err != nil {
		t.Errorf("no state kept: %v", err)
	}
	var missing int64
	for _, p := range ps {
		if !kept[p] {
			missing += int64(len(src.files[p]))
		}
	}

	release.Do(func() { close(g.release) })
	s, errs, code := getTree(t, url, "-C", out)
	if code != 0 || s.Fetched != len(ps)-len(kept) || s.Present != len(kept) || s.FetchedBytes != missing {
		t.Fatalf("rerun: exit %d, fetched %d (%d bytes), %d present; want %d (%d bytes), %d; %s",
			code, s.Fetched, s.FetchedBytes, s.Present, len(ps)-len(kept), missing, len(kept), errs)
	}
	sameTree(t, target, src.files, src.exec)
}

// TestTreeOneFileStalls: one file whose server never answers its READ (a
// stalled disk): only that file fails; the files that were behind it on
// the same session are fetched on the next one, not failed with it.
func TestTreeOneFileStalls(t *testing.T) {
	src := newSrcTree(t)
	ps := src.randomFiles(t, "d", 30, 64<<10, 9)
	held := ps[5]
	u := src.manifest(t, "stall")
	e := entryOf(held, src.files[held], false)
	g := gateStore{only: urn.New(urn.BLAKE3, e.BLAKE3), reading: make(chan struct{}), release: make(chan struct{}), once: new(sync.Once)}
	d, _ := rtpdtest.ServeInProcess(t, src.served, func(o store.Opener) store.Opener { g.Opener = o; return g })
	t.Cleanup(func() { close(g.release) })
	c := *u
	c.Servers = []rtpurl.Dial{d}
	out := t.TempDir()
	s, stderr, code := getTree(t, c.String(), "-C", out, "--stall", "500ms", "--retry-for", "3s")
	if code != 1 || s.Failed != 1 || s.Placed != len(ps)-1 {
		t.Fatalf("exit %d, %d failed, %d placed; want 1, 1, %d\n%s", code, s.Failed, s.Placed, len(ps)-1, stderr)
	}
	if !strings.Contains(stderr, held) {
		t.Errorf("stderr does not name the held file %s: %s", held, stderr)
	}
	want := map[string][]byte{}
	for p, b := range src.files {
		if p != held {
			want[p] = b
		}
	}
	sameTree(t, filepath.Join(out, "stall"), want, nil)
}
