package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"lukechampine.com/blake3"

	"github.com/rtp-project/rtp/client"
	"github.com/rtp-project/rtp/internal/rtpdtest"
	"github.com/rtp-project/rtp/internal/testload"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/urn"
	"github.com/rtp-project/rtp/wire"
)

func writeFile(t *testing.T, path string, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

func dialOf(t *testing.T, s *rtpdtest.Server, i int) rtpurl.Dial {
	t.Helper()
	d, err := rtpurl.ParseDial(s.Dials[i])
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func session(t *testing.T, d rtpurl.Dial) *client.Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := client.Dial(ctx, d, &client.Options{TLS: &tls.Config{InsecureSkipVerify: true}}) // bytes are compared, not trusted
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// fetch reads a whole resource in 1 MiB READs.
func fetch(ctx context.Context, s *client.Session, uri string, size int) ([]byte, error) {
	tok, err := s.Open(ctx, uri)
	if err != nil {
		return nil, err
	}
	out := make([]byte, size)
	for off := 0; off < size; {
		n, err := s.ReadAt(ctx, tok, out[off:min(off+1<<20, size)], uint64(off))
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, fmt.Errorf("empty READ at %d of %d", off, size)
		}
		off += n
	}
	return out, nil
}

// TestKill9DuringIndexPass: rtpd killed with SIGKILL during its first index
// pass, a file rewritten meanwhile (same size, mtime put back), then a
// restart: every file is served under its true hashes and nothing under
// the rewritten file's old ones.
//
// The kill is ordered by what rtpd did, not by a sleep: the test holds
// leases (lease_linux_test.go) on the biggest file, which rtpd's two hash
// workers take first, and on an empty one, which they take last. Once rtpd
// waits to open both, one worker is held on each: every other file has
// been hashed, and the pass cannot end; the test then waits until the
// index file shows them committed (rtpd commits hashed files in groups). The index is checked
// to be in that state before the restart. With RTP_TEST_FAST_HASH=1
// (package testload) the files are a tenth as big and as many.
func TestKill9DuringIndexPass(t *testing.T) {
	blobs, index := t.TempDir(), filepath.Join(t.TempDir(), "index.db")
	files := map[string][]byte{
		"big.bin":  writeFile(t, filepath.Join(blobs, "big.bin"), testload.Bytes(192<<20)),
		"last.bin": writeFile(t, filepath.Join(blobs, "last.bin"), 0),
	}
	for i := range testload.Count(200) {
		name := fmt.Sprintf("small-%03d.bin", i)
		files[name] = writeFile(t, filepath.Join(blobs, name), testload.Bytes(1+i*2000))
	}
	first := holdOpens(t, filepath.Join(blobs, "big.bin"))
	last := holdOpens(t, filepath.Join(blobs, "last.bin"))
	cmd := exec.Command(rtpdtest.RTPD, "serve", "--index", index, "--listen", "tcp!127.0.0.1!0", "--hash-workers", "2", blobs)
	var log bytes.Buffer
	cmd.Stderr = &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	waitOpened(t, exited, first, last)
	waitCommitted(t, blobs, index, len(files)-2)
	cmd.Process.Signal(syscall.SIGKILL)
	<-exited
	first.release()
	last.release()
	if strings.Contains(log.String(), "index pass done") {
		t.Fatalf("rtpd finished its index pass before the kill:\n%s", log.String())
	}
	checkIndexed(t, blobs, index, files, "big.bin", "last.bin")

	// Same size, new bytes, old mtime: only ctime and the content differ.
	// It is written again until its mtime differs, so that the file
	// system's clock, which may be coarse, has moved on since the first
	// write, and ctime differs too.
	old, path := files["small-007.bin"], filepath.Join(blobs, "small-007.bin")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	for {
		files["small-007.bin"] = writeFile(t, path, len(old))
		now, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if !now.ModTime().Equal(fi.ModTime()) {
			break
		}
	}
	os.Chtimes(path, fi.ModTime(), fi.ModTime())

	srv := rtpdtest.Start(t, blobs, "--index", index, "--listen", "tcp!127.0.0.1!0")
	t.Logf("restart: %s", lastLine(srv.Log(), "index pass done"))
	s := session(t, dialOf(t, srv, 0))
	// A bound, not a timing: 400 MiB through a -race client on a busy
	// machine took over a minute.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for name, data := range files {
		for _, h := range []urn.Hash{urn.New(urn.SHA256, sha256.Sum256(data)), urn.New(urn.BLAKE3, blake3.Sum256(data))} {
			got, err := fetch(ctx, s, h.String(), len(data))
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%s by %s: %v (bytes equal: %v)", name, h.Kind, err, bytes.Equal(got, data))
			}
		}
	}
	for _, h := range []urn.Hash{urn.New(urn.SHA256, sha256.Sum256(old)), urn.New(urn.BLAKE3, blake3.Sum256(old))} {
		if _, err := s.Open(ctx, h.String()); !errors.Is(err, wire.ErrNotFound) {
			t.Errorf("the rewritten file's old %s: OPEN gave %v, want not found", h.Kind, err)
		}
	}
}

// checkIndexed checks, on a copy of the index, that every file but the
// ones named is indexed under its hashes, and those are not.
func checkIndexed(t *testing.T, blobs, index string, files map[string][]byte, not ...string) {
	t.Helper()
	got, err := indexCopy(t, blobs, index)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		e, ok := got[name]
		switch {
		case slices.Contains(not, name) && ok:
			t.Errorf("%s is in the index after the kill; rtpd was to be held before it", name)
		case slices.Contains(not, name):
		case !ok:
			t.Errorf("%s is not in the index after the kill; rtpd was to have committed it", name)
		case e.SHA256 != sha256.Sum256(data) || e.BLAKE3 != blake3.Sum256(data):
			t.Errorf("%s is in the index after the kill under other hashes", name)
		}
	}
	t.Logf("index at the kill: %d of %d files", len(got), len(files))
}

// indexCopy lists the entries of a copy of the index file, which a running
// rtpd holds locked.
func indexCopy(t *testing.T, blobs, index string) (map[string]store.Entry, error) {
	t.Helper()
	b, err := os.ReadFile(index)
	if err != nil {
		return nil, err
	}
	cp := filepath.Join(t.TempDir(), "index.db")
	if err := os.WriteFile(cp, b, 0o644); err != nil {
		return nil, err
	}
	disk, err := store.OpenDisk(blobs, store.Options{Index: cp})
	if err != nil {
		return nil, err
	}
	defer disk.Close()
	got := map[string]store.Entry{}
	err = disk.List(context.Background(), func(e store.Entry) error { got[e.Path] = e; return nil })
	return got, err
}

// waitCommitted waits until the index file holds n entries: rtpd commits
// what it hashed in groups, a little after the hashing.
func waitCommitted(t *testing.T, blobs, index string, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute) // a bound, not a timing
	for {
		got, err := indexCopy(t, blobs, index)
		if err == nil && len(got) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the index holds %d entries (%v) a minute after rtpd hashed %d files", len(got), err, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func lastLine(log, substr string) string {
	var last string
	for _, l := range bytes.Split([]byte(log), []byte("\n")) {
		if bytes.Contains(l, []byte(substr)) {
			last = string(l)
		}
	}
	return last
}

// TestServedFileTruncatedOrDeleted: while clients read them, one file is
// truncated and one deleted. Their readers get errors or the right bytes,
// never wrong ones; a reader of a third file, on another session, is not
// disturbed; the deleted file is no longer found.
func TestServedFileTruncatedOrDeleted(t *testing.T) {
	for _, proto := range []string{"tcp", "quic"} {
		t.Run(proto, func(t *testing.T) {
			blobs := t.TempDir()
			const size = 48 << 20
			data := map[string][]byte{}
			for _, n := range []string{"trunc.bin", "gone.bin", "calm.bin"} {
				data[n] = writeFile(t, filepath.Join(blobs, n), size)
			}
			srv := rtpdtest.Start(t, blobs, "--index", filepath.Join(t.TempDir(), "i.db"), "--listen", proto+"!127.0.0.1!0")
			d := dialOf(t, srv, 0)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()

			type result struct {
				name      string
				ok, fails int
				err       error
			}
			results := make(chan result, 3)
			damage := map[string]func(string) error{
				"trunc.bin": func(p string) error { return os.Truncate(p, size/4) },
				"gone.bin":  os.Remove,
			}
			for name, b := range data {
				s := session(t, d)
				go func() {
					r := result{name: name}
					defer func() { results <- r }()
					tok, err := s.Open(ctx, urn.New(urn.SHA256, sha256.Sum256(b)).String())
					if err != nil {
						r.err = err
						return
					}
					buf := make([]byte, 1<<20)
					for off := 0; off < size; off += len(buf) {
						if off == size/3 && damage[name] != nil {
							if err := damage[name](filepath.Join(blobs, name)); err != nil {
								r.err = err
								return
							}
						}
						n, err := s.ReadAt(ctx, tok, buf, uint64(off))
						switch {
						case err != nil:
							r.fails++
							if !errors.Is(err, wire.ErrNotFound) && !errors.Is(err, client.ErrClosed) && !errors.As(err, new(*wire.Error)) {
								t.Logf("%s: READ at %d: %v", name, off, err)
							}
						case n != len(buf):
							r.err = fmt.Errorf("READ at %d: %d bytes, want %d", off, n, len(buf))
							return
						case !bytes.Equal(buf, b[off:off+n]):
							r.err = fmt.Errorf("READ at %d: wrong bytes", off)
							return
						default:
							r.ok++
						}
						if s.Err() != nil {
							// The session was closed; start another.
							s = session(t, d)
							if tok, err = s.Open(ctx, urn.New(urn.SHA256, sha256.Sum256(b)).String()); err != nil {
								r.fails += size/len(buf) - off/len(buf) - 1
								return
							}
						}
					}
				}()
			}
			for range data {
				r := <-results
				t.Logf("%s: %d READs right, %d failed, %v", r.name, r.ok, r.fails, r.err)
				if r.err != nil {
					t.Errorf("%s: %v", r.name, r.err)
				}
				switch r.name {
				case "calm.bin":
					if r.fails != 0 || r.ok != size>>20 {
						t.Errorf("calm.bin: %d failed, %d right; want none failed", r.fails, r.ok)
					}
				case "trunc.bin":
					if r.fails == 0 {
						t.Errorf("trunc.bin: every READ succeeded after the file was cut to a quarter")
					}
				}
			}
			s := session(t, d)
			if _, err := s.Open(ctx, urn.New(urn.SHA256, sha256.Sum256(data["gone.bin"])).String()); !errors.Is(err, wire.ErrNotFound) {
				t.Errorf("deleted file: OPEN gave %v, want not found", err)
			}
			if !srv.Alive() {
				t.Fatal("rtpd died")
			}
		})
	}
}
