//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
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
)

// serveRandom serves one random file of n bytes from this process and
// returns its bytes, its URL (naming that server) and a kill function.
func serveRandom(t *testing.T, n int) ([]byte, *rtpurl.URL, func()) {
	t.Helper()
	blobs := t.TempDir()
	data, u := writeRandom(t, blobs, "f.bin", n)
	d, kill := rtpdtest.ServeInProcess(t, blobs, nil)
	u.Servers = []rtpurl.Dial{d}
	return data, u, kill
}

func withName(u *rtpurl.URL, dn string) string {
	c := *u
	c.Name = dn
	return c.String()
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// TestDnIsSanitized: a name taken from the URL's dn stays in the folder,
// makes no hidden file and carries no control or bidi character, neither
// into the file system nor onto the terminal; a dotfile that is there is
// left alone.
func TestDnIsSanitized(t *testing.T) {
	data, u, _ := serveRandom(t, 64<<10)
	cases := []struct{ dn, want string }{
		{".bashrc", "bashrc"},
		{"evil\x1b[31m\nname.bin", "evil_[31m_name.bin"},
		{"invoice\u202Efdp.exe", "invoice_fdp.exe"},
		{"../../x.bin", "x.bin"},
		{"..", u.Hashes[0].Hex()},
	}
	for _, c := range cases {
		t.Run(c.want, func(t *testing.T) {
			dir := t.TempDir()
			bashrc := []byte("alias ls='ls --color'\n")
			if err := os.WriteFile(filepath.Join(dir, ".bashrc"), bashrc, 0o644); err != nil {
				t.Fatal(err)
			}
			_, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, "-C", dir, withName(u, c.dn))
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			if strings.ContainsAny(stderr, "\x1b\u202e") || strings.Count(stderr, "\n") != 1 {
				t.Errorf("stderr carries the raw name: %q", stderr)
			}
			if got := mustRead(t, filepath.Join(dir, ".bashrc")); !bytes.Equal(got, bashrc) {
				t.Errorf(".bashrc overwritten (%d bytes)", len(got))
			}
			if got := names(t, dir); len(got) != 2 || got[0] != ".bashrc" || got[1] != c.want {
				t.Fatalf("folder holds %q, want .bashrc and %q", got, c.want)
			}
			if !bytes.Equal(mustRead(t, filepath.Join(dir, c.want)), data) {
				t.Error("output differs")
			}
		})
	}
}

// TestExistingFileKept: a file of the output name whose bytes are not the
// URL's is left as it is (exit 1, nothing fetched, no .part), whether the
// name came from the dn or from -o; --force replaces it.
func TestExistingFileKept(t *testing.T) {
	data, u, _ := serveRandom(t, 64<<10)
	for _, how := range []string{"dn", "-o"} {
		t.Run(how, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "f.bin")
			mine := []byte("my own notes\n")
			if err := os.WriteFile(out, mine, 0o644); err != nil {
				t.Fatal(err)
			}
			args := []string{"-C", dir, u.String()}
			if how == "-o" {
				args = []string{"-o", out, u.String()}
			}
			_, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, args...)
			if code != 1 || !strings.Contains(stderr, "--force") {
				t.Errorf("exit %d, stderr %q; want 1 and a hint of --force", code, stderr)
			}
			if got := mustRead(t, out); !bytes.Equal(got, mine) {
				t.Fatalf("existing file replaced (%d bytes)", len(got))
			}
			if got := names(t, dir); len(got) != 1 {
				t.Errorf("folder holds %q, want only f.bin", got)
			}
			_, stderr, code = rtpdtest.Run(t, rtpdtest.RTPGet, append([]string{"--force"}, args...)...)
			if code != 0 {
				t.Fatalf("--force: exit %d\n%s", code, stderr)
			}
			if !bytes.Equal(mustRead(t, out), data) {
				t.Error("--force: output differs")
			}
		})
	}
}

// TestRerunIsNoop: running a finished download again fetches nothing: it
// succeeds with its only server gone, and --json says so.
func TestRerunIsNoop(t *testing.T) {
	data, u, kill := serveRandom(t, 1<<20)
	dir := t.TempDir()
	if _, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, "-C", dir, u.String()); code != 0 {
		t.Fatalf("first run: exit %d\n%s", code, stderr)
	}
	kill()
	for _, force := range []bool{false, true} {
		args := []string{"--json", "-C", dir, u.String()}
		if force {
			args = append([]string{"--force"}, args...)
		}
		stdout, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, args...)
		if code != 0 {
			t.Fatalf("rerun (force %v), server gone: exit %d\n%s", force, code, stderr)
		}
		var r struct {
			Fetched  int64    `json:"fetched_bytes"`
			Kept     int64    `json:"kept_bytes"`
			Verified []string `json:"verified"`
			Already  bool     `json:"already_complete"`
		}
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatalf("--json %q: %v", stdout, err)
		}
		if !r.Already || r.Fetched != 0 || r.Kept != int64(len(data)) || len(r.Verified) != len(u.Hashes) {
			t.Errorf("rerun summary %+v: want already complete, nothing fetched, %d kept, %d hashes", r, len(data), len(u.Hashes))
		}
	}
	if got := names(t, dir); len(got) != 1 || !bytes.Equal(mustRead(t, filepath.Join(dir, got[0])), data) {
		t.Errorf("folder holds %q after the reruns", got)
	}
}

// TestOutputFIFO: -o naming a FIFO streams the exact bytes into it and
// leaves it a FIFO; a FIFO that only the URL's dn names is refused.
func TestOutputFIFO(t *testing.T) {
	data, u, _ := serveRandom(t, 3<<20)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "f.bin")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	var got []byte
	var rerr error
	read := make(chan struct{})
	go func() {
		defer close(read)
		f, err := os.Open(fifo)
		if err != nil {
			rerr = err
			return
		}
		defer f.Close()
		got, rerr = io.ReadAll(f)
	}()
	_, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, "-o", fifo, u.String())
	unblockReader(fifo)
	select {
	case <-read:
	case <-time.After(30 * time.Second):
		// The FIFO was replaced while the reader waited in open on it.
		t.Fatalf("the reader is still waiting for a writer (exit %d, %s is now %v)", code, fifo, modeOf(fifo))
	}
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if rerr != nil || !bytes.Equal(got, data) {
		t.Errorf("reader got %d bytes (%v), want the %d of the file", len(got), rerr, len(data))
	}
	checkMode(t, fifo, os.ModeNamedPipe)
	if got := names(t, dir); len(got) != 1 {
		t.Errorf("folder holds %q, want only the FIFO", got)
	}

	// The dn names it: not written into, and not replaced.
	_, stderr, code = rtpdtest.Run(t, rtpdtest.RTPGet, "-C", dir, u.String())
	if code != 1 || !strings.Contains(stderr, "FIFO") {
		t.Errorf("dn naming a FIFO: exit %d, %q; want 1 and why", code, stderr)
	}
	checkMode(t, fifo, os.ModeNamedPipe)
}

// TestOutputDevStdout: -o /dev/stdout when stdout is a pipe streams into
// the pipe. /dev/stdout leads through /proc to "pipe:[N]", a link no path
// resolves, which was once refused as a link to nothing.
func TestOutputDevStdout(t *testing.T) {
	data, u, _ := serveRandom(t, 3<<20)
	out, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, "-q", "-o", "/dev/stdout", u.String())
	if code != 0 || out != string(data) {
		t.Errorf("exit %d, %d bytes on stdout, want 0 and the %d of the file: %s", code, len(out), len(data), stderr)
	}
	// A device that takes nothing: exit 1 with its error, at once (it once
	// spun at full CPU until killed).
	if _, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, "-q", "-o", "/dev/full", u.String()); code != 1 || !strings.Contains(stderr, "no space left") {
		t.Errorf("-o /dev/full: exit %d, %s; want 1 and ENOSPC", code, stderr)
	}
}

// unblockReader ends a reader still waiting in open on fifo (when rtpget
// never opened it), so the test fails instead of hanging.
func unblockReader(fifo string) {
	if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
		f.Close()
	}
}

func modeOf(path string) os.FileMode {
	fi, err := os.Lstat(path)
	if err != nil {
		return 0
	}
	return fi.Mode().Type()
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != want {
		t.Errorf("%s is now %v, want %v", path, fi.Mode().Type(), want)
	}
}

// TestOutputCharDevice: -o naming a character device (a null device made
// for the test, as /dev/null is) writes into it and leaves it a device.
func TestOutputCharDevice(t *testing.T) {
	_, u, _ := serveRandom(t, 1<<20)
	dir := t.TempDir()
	dev := filepath.Join(dir, "null")
	if err := syscall.Mknod(dev, syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
		t.Skipf("making a null device needs root (CAP_MKNOD): %v", err)
	}
	if f, err := os.OpenFile(dev, os.O_WRONLY, 0); err != nil {
		t.Skipf("the test folder's file system does not open devices (mounted nodev?): %v", err)
	} else {
		f.Close()
	}
	stdout, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, "--json", "-o", dev, u.String())
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	var r struct {
		Length   int64    `json:"length"`
		Verified []string `json:"verified"`
	}
	if err := json.Unmarshal([]byte(stdout), &r); err != nil || r.Length != u.Length || len(r.Verified) != len(u.Hashes) {
		t.Errorf("summary %q (%v): want %d bytes verified by %d hashes", stdout, err, u.Length, len(u.Hashes))
	}
	checkMode(t, dev, os.ModeDevice|os.ModeCharDevice)
	if got := names(t, dir); len(got) != 1 {
		t.Errorf("folder holds %q, want only the device", got)
	}
}

// TestOutputSymlink: -o naming a symbolic link keeps the link: a file it
// points to that is not this one is refused, or with --force replaced
// (the link then points to the new bytes); a link to nothing is refused.
func TestOutputSymlink(t *testing.T) {
	data, u, _ := serveRandom(t, 64<<10)
	dir, real := t.TempDir(), t.TempDir()
	target := filepath.Join(real, "v1.bin")
	old := []byte("version 1\n")
	if err := os.WriteFile(target, old, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "current.bin")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, "-o", link, u.String())
	if code != 1 {
		t.Errorf("link to another file: exit %d, want 1\n%s", code, stderr)
	}
	checkMode(t, link, os.ModeSymlink)
	if !bytes.Equal(mustRead(t, target), old) {
		t.Error("the link's target was replaced without --force")
	}
	_, stderr, code = rtpdtest.Run(t, rtpdtest.RTPGet, "--force", "-o", link, u.String())
	if code != 0 {
		t.Fatalf("--force: exit %d\n%s", code, stderr)
	}
	checkMode(t, link, os.ModeSymlink)
	if !bytes.Equal(mustRead(t, target), data) {
		t.Error("--force: the link's target differs")
	}
	if got := names(t, real); len(got) != 1 {
		t.Errorf("target folder holds %q", got)
	}

	dangling := filepath.Join(dir, "nowhere.bin")
	if err := os.Symlink(filepath.Join(real, "missing.bin"), dangling); err != nil {
		t.Fatal(err)
	}
	_, stderr, code = rtpdtest.Run(t, rtpdtest.RTPGet, "--force", "-o", dangling, u.String())
	if code != 1 {
		t.Errorf("link to nothing: exit %d, want 1\n%s", code, stderr)
	}
	checkMode(t, dangling, os.ModeSymlink)
	if _, err := os.Lstat(filepath.Join(real, "missing.bin")); err == nil {
		t.Error("a file was created through a dangling link")
	}
}

// TestTwoRunsOneName: while one rtpget downloads into a name, a second on
// the same name fails at once, touching neither NAME.part nor its state,
// and the first ends with the exact file.
func TestTwoRunsOneName(t *testing.T) {
	blobs := t.TempDir()
	data, u := writeRandom(t, blobs, "f.bin", 4<<20)
	gate := gateStore{reading: make(chan struct{}), release: make(chan struct{}), once: new(sync.Once)}
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(gate.release) }) }
	t.Cleanup(release)
	d, _ := rtpdtest.ServeInProcess(t, blobs, func(o store.Opener) store.Opener { gate.Opener = o; return gate })
	u.Servers = []rtpurl.Dial{d}
	out := filepath.Join(t.TempDir(), "f.bin")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	first := exec.CommandContext(ctx, rtpdtest.RTPGet, "-q", "--stall", "1m", "-o", out, u.String())
	var firstErr bytes.Buffer
	first.Stderr = &firstErr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-gate.reading: // the first run holds NAME.part and asks for bytes
	case <-ctx.Done():
		t.Fatal("the first run never read")
	}
	before, err := os.Stat(out + ".part")
	if err != nil {
		t.Fatal(err)
	}

	// Bounded, so that a second run that waits on the gate too fails the
	// test rather than hanging it.
	ctx2, cancel2 := context.WithTimeout(ctx, 30*time.Second)
	defer cancel2()
	second := exec.CommandContext(ctx2, rtpdtest.RTPGet, "-q", "--stall", "1m", "-o", out, u.String())
	var secondErr bytes.Buffer
	second.Stderr = &secondErr
	err = second.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(secondErr.String(), "another rtpget is writing") {
		t.Errorf("second run: %v, %q; want exit 1 and the lock message", err, secondErr.String())
	}
	after, err := os.Stat(out + ".part")
	if err != nil || after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("the second run touched NAME.part: %v then %v (%v)", before, after, err)
	}

	release()
	if err := first.Wait(); err != nil {
		t.Fatalf("first run: %v\n%s", err, firstErr.String())
	}
	if !bytes.Equal(mustRead(t, out), data) {
		t.Error("the first run's output differs")
	}
}

// TestListKeepsExisting: the lines of an -i list follow the same rules:
// a dn of .bashrc writes bashrc, a file that is another is kept (that line
// fails), one already complete is not fetched again.
func TestListKeepsExisting(t *testing.T) {
	blobs := t.TempDir()
	a, ua := writeRandom(t, blobs, "a.bin", 64<<10)
	_, ub := writeRandom(t, blobs, "b.bin", 64<<10)
	c, uc := writeRandom(t, blobs, "c.bin", 64<<10)
	d, _ := rtpdtest.ServeInProcess(t, blobs, nil)
	for _, u := range []*rtpurl.URL{ua, ub, uc} {
		u.Servers = []rtpurl.Dial{d}
	}
	dir := t.TempDir()
	bashrc, mine := []byte("export PS1='$ '\n"), []byte("mine\n")
	for name, b := range map[string][]byte{".bashrc": bashrc, "b.bin": mine, "c.bin": c} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	list := filepath.Join(t.TempDir(), "urls.txt")
	text := withName(ua, ".bashrc") + "\n" + ub.String() + "\n" + uc.String() + "\n"
	if err := os.WriteFile(list, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, "-C", dir, "-i", list)
	if code != 1 || !strings.Contains(stderr, ":2: ") || strings.Contains(stderr, ":1: ") || strings.Contains(stderr, ":3: ") {
		t.Errorf("exit %d, %q; want 1 and line 2 alone failing", code, stderr)
	}
	want := map[string][]byte{".bashrc": bashrc, "bashrc": a, "b.bin": mine, "c.bin": c}
	for name, b := range want {
		if got := mustRead(t, filepath.Join(dir, name)); !bytes.Equal(got, b) {
			t.Errorf("%s: %d bytes, not the %d expected", name, len(got), len(b))
		}
	}
	if got := names(t, dir); len(got) != len(want) {
		t.Errorf("folder holds %q", got)
	}
}

// TestOutputPartNotRegular: a FIFO or a symbolic link where rtpget keeps
// its partial download (NAME.part) is neither written through nor
// removed: exit 1, saying what is there.
func TestOutputPartNotRegular(t *testing.T) {
	_, u, _ := serveRandom(t, 1<<20)
	dir := t.TempDir()
	out := filepath.Join(dir, "f.bin")
	if err := syscall.Mkfifo(out+".part", 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, "-q", "-o", out, u.String())
	if code != 1 || !strings.Contains(stderr, "is a FIFO") {
		t.Errorf("a FIFO at .part: exit %d, %s", code, stderr)
	}
	checkMode(t, out+".part", os.ModeNamedPipe)

	os.Remove(out + ".part")
	mine := filepath.Join(dir, "mine.txt")
	os.WriteFile(mine, []byte("mine"), 0o644)
	os.Symlink(mine, out+".part")
	_, stderr, code = rtpdtest.Run(t, rtpdtest.RTPGet, "-q", "-o", out, u.String())
	if code != 1 || !strings.Contains(stderr, "is a symbolic link") {
		t.Errorf("a link at .part: exit %d, %s", code, stderr)
	}
	if b, _ := os.ReadFile(mine); string(b) != "mine" {
		t.Errorf("the file the link points to holds %q", b)
	}
}
