package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rtp-project/rtp/internal/rtpdtest"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/urn"
)

// slowStore makes a real in-process server slow: every chunk it reads
// waits first, so a download takes long enough to be interrupted.
type slowStore struct {
	store.Opener
	wait time.Duration
}

func (s slowStore) Open(ctx context.Context, h urn.Hash) (store.Blob, error) {
	b, err := s.Opener.Open(ctx, h)
	if err != nil {
		return nil, err
	}
	return slowBlob{b, s.wait}, nil
}

type slowBlob struct {
	store.Blob
	wait time.Duration
}

func (b slowBlob) ReadAt(p []byte, off int64) (int, error) {
	time.Sleep(b.wait)
	return b.Blob.ReadAt(p, off)
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// TestKill9ThenResume: rtpget killed with SIGKILL mid-download (no chance
// to save anything) resumes from the state it last saved, and the file is
// exact.
func TestKill9ThenResume(t *testing.T) {
	blobs := t.TempDir()
	data, u := writeRandom(t, blobs, "f.bin", 96<<20)
	slow, _ := rtpdtest.ServeInProcess(t, blobs, func(o store.Opener) store.Opener { return slowStore{o, 40 * time.Millisecond} })
	u.Servers = []rtpurl.Dial{slow}
	out := filepath.Join(t.TempDir(), "f.bin")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, rtpdtest.RTPGet, "-q", "-o", out, u.String())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The state is saved every 2 s; wait for the first save.
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(out + ".part.state"); err == nil {
			break
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if ws := cmd.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() {
		t.Fatalf("rtpget was not killed (exit %d): the download ended first\n%s", cmd.ProcessState.ExitCode(), stderr.String())
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("final name exists after kill -9")
	}
	if _, err := os.Stat(out + ".part.state"); err != nil {
		t.Fatalf("no resume state after kill -9: %v", err)
	}

	fast := rtpdtest.Start(t, blobs, "--index", filepath.Join(t.TempDir(), "i.db"), "--listen", "tcp!127.0.0.1!0")
	u.Servers = nil
	r, errText, code := summary(t, "-o", out, addServers(u, fast))
	if code != 0 {
		t.Fatalf("rerun: exit %d\n%s", code, errText)
	}
	if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("resumed output differs (%d bytes, %v)", len(got), err)
	}
	t.Logf("rerun kept %d of %d bytes, received %d", r.Kept, len(data), r.Fetched)
	if r.Kept == 0 {
		t.Error("the rerun kept nothing from the killed run")
	}
	if r.Kept+r.Fetched > int64(len(data))+int64(len(data))/8 {
		t.Errorf("rerun received %d bytes and kept %d: more than the file's %d plus endgame slack", r.Fetched, r.Kept, len(data))
	}
}

// TestFullDisk: a download that can't fit on the disk fails at once with a
// clear error and exit 1, leaves the partial download and its state as
// they were, and puts nothing under the final name; moved to a disk with
// room, the same command finishes it.
func TestFullDisk(t *testing.T) {
	blobs := t.TempDir()
	const size = 32 << 20
	data, u := writeRandom(t, blobs, "f.bin", size)

	// A partial download: the only server dies part way.
	srv, kill := rtpdtest.ServeInProcess(t, blobs, func(o store.Opener) store.Opener { return slowStore{o, 20 * time.Millisecond} })
	u.Servers = []rtpurl.Dial{srv}
	url := u.String()
	big := t.TempDir()
	out := filepath.Join(big, "f.bin")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, rtpdtest.RTPGet, "-q", "--stall", "1s", "--retry-for", "2s", "-o", out, url)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitWritten(t, out+".part", size/2)
	kill()
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("server gone: exit %d, want 1", code)
	}

	// The same partial download on a disk with room for half the file.
	small := smallDisk(t, size*3/4)
	for _, name := range []string{"f.bin.part", "f.bin.part.state"} {
		if b, err := exec.Command("cp", "--sparse=always", filepath.Join(big, name), filepath.Join(small.dir, name)).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v\n%s", err, b)
		}
	}
	partSum := fileSum(t, filepath.Join(small.dir, "f.bin.part"))
	stateSum := fileSum(t, filepath.Join(small.dir, "f.bin.part.state"))
	// A server that could finish it, so only the disk can fail.
	good := rtpdtest.Start(t, blobs, "--index", filepath.Join(t.TempDir(), "i.db"), "--listen", "tcp!127.0.0.1!0")
	u.Servers = nil
	url = addServers(u, good)
	_, stderr, code := small.run(t, "-q", "-o", filepath.Join(small.dir, "f.bin"), url)
	t.Logf("on a %s: exit %d, stderr %q", small.kind, code, stderr)
	if code != 1 {
		t.Fatalf("full disk: exit %d, want 1\n%s", code, stderr)
	}
	if lines := strings.Split(strings.TrimSpace(stderr), "\n"); len(lines) != 1 || !strings.Contains(stderr, small.errText) {
		t.Errorf("full disk: want one line saying %q, got %q", small.errText, stderr)
	}
	if _, err := os.Stat(filepath.Join(small.dir, "f.bin")); err == nil {
		t.Error("final name exists after a full disk")
	}
	if fileSum(t, filepath.Join(small.dir, "f.bin.part")) != partSum || fileSum(t, filepath.Join(small.dir, "f.bin.part.state")) != stateSum {
		t.Error("the partial download or its state changed")
	}

	// Back on a disk with room: the same command finishes.
	r, stderr, code := summary(t, "-o", out, url)
	if code != 0 {
		t.Fatalf("rerun with room: exit %d\n%s", code, stderr)
	}
	if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("output differs (%d bytes, %v)", len(got), err)
	}
	if r.Kept == 0 {
		t.Error("the rerun kept nothing")
	}
}

// waitWritten waits until the byte at off in path is no longer zero, which
// for random data means the block holding it has arrived. (The file has its
// full size from the start: rtpget reserves it.)
func waitWritten(t *testing.T, path string, off int64) {
	t.Helper()
	b := make([]byte, 4096)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		n, _ := f.ReadAt(b, off)
		f.Close()
		if n > 0 && bytes.Count(b[:n], []byte{0}) < n {
			return
		}
	}
	t.Fatalf("%s: nothing written at %d after 30 s", path, off)
}

// A small disk: a tmpfs of the given size mounted for the test when the
// test may mount, else a file-size limit (RLIMIT_FSIZE) on rtpget.
type disk struct {
	dir, kind, errText string
	limit              int64
}

func smallDisk(t *testing.T, size int64) *disk {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput(); err == nil {
		t.Cleanup(func() {
			if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
				t.Errorf("umount %s: %v\n%s", dir, err, out)
			}
		})
		return &disk{dir: dir, kind: fmt.Sprintf("%d-byte tmpfs", size), errText: "no space left on device"}
	} else {
		t.Logf("can't mount a tmpfs (%v: %s); limiting rtpget's file size instead", err, bytes.TrimSpace(out))
	}
	if _, err := exec.LookPath("prlimit"); err != nil {
		t.Fatal("neither mount nor prlimit (util-linux) works here")
	}
	return &disk{dir: dir, kind: fmt.Sprintf("%d-byte file size limit", size), errText: "file too large", limit: size}
}

func (d *disk) run(t *testing.T, args ...string) (string, string, int) {
	if d.limit == 0 {
		return rtpdtest.Run(t, rtpdtest.RTPGet, args...)
	}
	return rtpdtest.Run(t, "prlimit", append([]string{fmt.Sprintf("--fsize=%d", d.limit), rtpdtest.RTPGet}, args...)...)
}

// TestTreeFullDisk: a tree whose small files do not fit on the disk fails
// with exit 1 and a clear error, not a crash, and nothing it placed
// differs from the source.
func TestTreeFullDisk(t *testing.T) {
	src := newSrcTree(t)
	ps := src.randomFiles(t, "d", 40, 512<<10, 3)
	u := src.manifest(t, "full")
	srvs := src.serve(t, 1)
	small := smallDisk(t, 4<<20)
	stdout, stderr, code := small.run(t, "-q", "--json", "-C", small.dir, addServers(u, srvs...))
	t.Logf("on a %s: exit %d, stderr %q", small.kind, code, stderr)
	if code != 1 {
		t.Fatalf("tree on a full disk: exit %d, want 1\n%s\n%s", code, stderr, stdout)
	}
	if lines := strings.Split(strings.TrimSpace(stderr), "\n"); len(lines) != 1 || !strings.Contains(stderr, small.errText) {
		t.Errorf("want one line saying %q, got %q", small.errText, stderr)
	}
	placed := 0
	for _, p := range ps {
		got, err := os.ReadFile(filepath.Join(small.dir, "full", filepath.FromSlash(p)))
		if err != nil {
			continue
		}
		placed++
		if !bytes.Equal(got, src.files[p]) {
			t.Errorf("%s: placed, but not the source's bytes", p)
		}
	}
	t.Logf("%d of %d files placed", placed, len(ps))
}
