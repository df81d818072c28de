package store

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rtp-project/rtp/outboard"
	"github.com/rtp-project/rtp/urn"
)

// syncBuffer is a log sink the hashing goroutines may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestFileChangedWhileHashed is a file truncated, or grown, after rtpd read
// its first MiB and before it read the rest (the hook runs between the
// two, so it is not a race). The size is 100 groups: the first MiB is 64 of
// them, which the tree of 100 groups has no parent for, so finishing that
// tree with 64 groups panicked ("negative shift amount"). Now the pass
// goes on, the file is not served, one warning is logged for the two passes
// that found it changing, and once it stands still the next pass serves
// its new bytes with their hashes and tree.
func TestFileChangedWhileHashed(t *testing.T) {
	const size = 100 * outboard.GroupSize
	for _, c := range []struct {
		name   string
		change func(f *os.File) error
	}{
		{"truncated", func(f *os.File) error { return f.Truncate(size / 3) }},
		{"grown", func(f *os.File) error {
			_, err := f.WriteAt(bytes.Repeat([]byte{7}, 1<<20), size)
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			name := filepath.Join(dir, "big")
			old := random(t, size)
			write(t, name, old)
			write(t, filepath.Join(dir, "small"), []byte("stays\n"))
			var logs syncBuffer
			d, err := OpenDisk(dir, Options{Index: filepath.Join(t.TempDir(), "index.db"),
				Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.Close() })

			changes, pass := 0, 0
			d.hashHook = func(rel string) {
				if rel != "big" || changes == pass {
					return
				}
				changes++
				f, err := os.OpenFile(name, os.O_RDWR, 0)
				if err != nil {
					t.Error(err)
					return
				}
				defer f.Close()
				change := c.change
				if pass > 1 {
					// A copy still going on: one more byte.
					change = func(f *os.File) error {
						fi, err := f.Stat()
						if err == nil {
							_, err = f.WriteAt([]byte{1}, fi.Size())
						}
						return err
					}
				}
				if err := change(f); err != nil {
					t.Error(err)
				}
			}
			for pass = 1; pass <= 2; pass++ {
				st := scan(t, d)
				if changes != pass {
					t.Fatalf("pass %d: the hook changed the file %d times; the test did not test", pass, changes)
				}
				if st.Skipped != 1 || st.Files != 1 {
					t.Errorf("pass %d: %+v, want 1 file served and 1 skipped", pass, st)
				}
				if _, err := d.Lookup(context.Background(), "big"); err == nil {
					t.Errorf("pass %d: a file that changed while hashed is served", pass)
				}
				if _, err := readAll(d, sha(old)); err == nil {
					t.Errorf("pass %d: the old bytes are served", pass)
				}
			}
			if n := strings.Count(logs.String(), "changed while it was hashed"); n != 1 {
				t.Errorf("the warning was logged %d times over two passes, want once:\n%s", n, logs.String())
			}

			// It stands still now.
			d.hashHook = nil
			now, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			st := scan(t, d)
			if st.Files != 2 || st.Skipped != 0 {
				t.Errorf("stable pass: %+v, want 2 files served", st)
			}
			e, err := d.Lookup(context.Background(), "big")
			if err != nil {
				t.Fatalf("the file is not served once stable: %v", err)
			}
			if e.Size != int64(len(now)) || urn.New(urn.SHA256, e.SHA256) != sha(now) || urn.New(urn.BLAKE3, e.BLAKE3) != b3(now) {
				t.Errorf("entry %+v does not hold the file's %d bytes now", e, len(now))
			}
			for _, h := range []urn.Hash{sha(now), b3(now)} {
				got, err := readAll(d, h)
				if err != nil || !bytes.Equal(got, now) {
					t.Errorf("read %v: %d bytes, %v", h, len(got), err)
				}
			}
			tb, err := d.OpenTree(context.Background(), b3(now))
			if err != nil {
				t.Fatal(err)
			}
			defer tb.Close()
			tree, err := io.ReadAll(io.NewSectionReader(tb, 0, tb.Size()))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := outboard.NewTree(tree, b3(now).Sum, int64(len(now))); err != nil {
				t.Errorf("the tree served once stable: %v", err)
			}
		})
	}
}
