package main

import (
	"bytes"
	"context"
	"encoding/json"
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

// TestFlagsAfterURL: rtpget URL -o FILE, as curl and wget take it, with
// long, short, combined and --flag=value forms after the URL.
func TestFlagsAfterURL(t *testing.T) {
	blobs := t.TempDir()
	data, u := writeRandom(t, blobs, "f.bin", 3<<20)
	d, _ := rtpdtest.ServeInProcess(t, blobs, nil)
	u.Servers = []rtpurl.Dial{d}
	url := u.String()
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		out  string
	}{
		{[]string{url, "-o", filepath.Join(dir, "a")}, "a"},
		{[]string{url, "-qo", filepath.Join(dir, "b")}, "b"},
		{[]string{url, "--output=" + filepath.Join(dir, "c"), "-q"}, "c"},
		{[]string{"-q", url, "-C", dir, "--output", "d"}, "d"},
		{[]string{url, "-C", dir, "-vv", "-o", "e"}, "e"},
	} {
		stdout, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, c.args...)
		if code != 0 || stdout != "" {
			t.Errorf("rtpget %q: exit %d, stdout %q, stderr %s", c.args, code, stdout, stderr)
			continue
		}
		if got, err := os.ReadFile(filepath.Join(dir, c.out)); err != nil || !bytes.Equal(got, data) {
			t.Errorf("rtpget %q: %s: %d bytes, %v", c.args, c.out, len(got), err)
		}
		line := strings.Join(c.args, " ")
		if strings.Contains(line, "-q") && stderr != "" {
			t.Errorf("rtpget %q: -q after the URL ignored: %s", c.args, stderr)
		}
		if strings.Contains(line, "-vv") && !strings.Contains(stderr, "DEBUG") {
			t.Errorf("rtpget %q: -vv after the URL ignored: %s", c.args, stderr)
		}
	}
	// "--" ends the flags: a name that looks like one is an argument.
	if _, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, "-C", dir, "--", url, "-o", "x"); code != 2 || !strings.Contains(stderr, "want one") {
		t.Errorf("rtpget -- URL -o x: exit %d, %s; want 2: two arguments", code, stderr)
	}
}

// gateStore holds every read of a blob (of the hash only, when set) until
// release is closed, and closes reading when the first one arrives.
type gateStore struct {
	store.Opener
	reading, release chan struct{}
	once             *sync.Once
	only             urn.Hash
}

func (s gateStore) Open(ctx context.Context, h urn.Hash) (store.Blob, error) {
	b, err := s.Opener.Open(ctx, h)
	if err != nil || (s.only != urn.Hash{} && h != s.only) {
		return b, err
	}
	return gateBlob{b, s}, nil
}

type gateBlob struct {
	store.Blob
	s gateStore
}

func (b gateBlob) ReadAt(p []byte, off int64) (int, error) {
	b.s.once.Do(func() { close(b.s.reading) })
	<-b.s.release
	return b.Blob.ReadAt(p, off)
}

// TestSignalExitCodes: SIGINT exits 130 and SIGTERM 143, as a shell
// reports a process it stopped, after rtpget saved its .part; the same
// command then resumes and finishes.
func TestSignalExitCodes(t *testing.T) {
	for _, c := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		t.Run(c.sig.String(), func(t *testing.T) {
			blobs := t.TempDir()
			data, u := writeRandom(t, blobs, "f.bin", 8<<20)
			g := gateStore{reading: make(chan struct{}), release: make(chan struct{}), once: new(sync.Once)}
			d, _ := rtpdtest.ServeInProcess(t, blobs, func(o store.Opener) store.Opener { g.Opener = o; return g })
			var release sync.Once
			t.Cleanup(func() { release.Do(func() { close(g.release) }) }) // before the server's kill
			u.Servers = []rtpurl.Dial{d}
			out := filepath.Join(t.TempDir(), "f.bin")
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, rtpdtest.RTPGet, "-o", out, u.String())
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan struct{})
			go func() { cmd.Wait(); close(exited) }()
			select {
			case <-g.reading: // rtpget has its .part open and asks for bytes
			case <-exited:
				t.Fatalf("rtpget exited %d before reading: %s", cmd.ProcessState.ExitCode(), stderr.String())
			case <-ctx.Done():
				t.Fatal("rtpget read nothing within a minute")
			}
			cmd.Process.Signal(c.sig)
			<-exited
			if code := cmd.ProcessState.ExitCode(); code != c.code {
				t.Errorf("exit %d after %v, want %d; stderr %s", code, c.sig, c.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), "interrupted") || strings.Count(strings.TrimSpace(stderr.String()), "\n") != 0 {
				t.Errorf("stderr %q: want one line saying it was interrupted", stderr.String())
			}
			if _, err := os.Stat(out + ".part"); err != nil {
				t.Errorf("no .part kept: %v", err)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("%s exists after %v", out, c.sig)
			}
			release.Do(func() { close(g.release) })
			if _, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, "-q", "-o", out, u.String()); code != 0 {
				t.Fatalf("resuming: exit %d, %s", code, stderr)
			}
			if got, _ := os.ReadFile(out); !bytes.Equal(got, data) {
				t.Errorf("resumed file differs")
			}
		})
	}
}

// TestInputJSONLines: --json with -i prints one summary a line, each a
// whole JSON object (JSON Lines), as jq -c and log collectors read them.
func TestInputJSONLines(t *testing.T) {
	blobs := t.TempDir()
	var us []*rtpurl.URL
	for _, name := range []string{"a.bin", "b.bin", "c.bin"} {
		_, u := writeRandom(t, blobs, name, 1<<20)
		us = append(us, u)
	}
	d, _ := rtpdtest.ServeInProcess(t, blobs, nil)
	var list []string
	for _, u := range us {
		u.Servers = []rtpurl.Dial{d}
		list = append(list, u.String())
	}
	file := filepath.Join(t.TempDir(), "urls.txt")
	os.WriteFile(file, []byte(strings.Join(list, "\n")+"\n"), 0o644)
	stdout, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, "-i", file, "-C", t.TempDir(), "--json", "-j", "3")
	if code != 0 {
		t.Fatalf("exit %d, %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	seen := map[int]bool{}
	for _, l := range lines {
		var s listSummary
		if err := json.Unmarshal([]byte(l), &s); err != nil {
			t.Fatalf("line %q is not a JSON object: %v\nstdout:\n%s", l, err, stdout)
		}
		if s.Error != "" || s.Result == nil || s.Result.Length != 1<<20 {
			t.Errorf("summary %s", l)
		}
		seen[s.Line] = true
	}
	if len(lines) != 3 || len(seen) != 3 {
		t.Errorf("%d lines for lines %v, want 3:\n%s", len(lines), seen, stdout)
	}
}
