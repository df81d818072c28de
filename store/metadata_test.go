package store

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rtp-project/rtp/outboard"
	"github.com/rtp-project/rtp/urn"
)

// ctimeMoves waits until a change made now gets a ctime other than the
// file's (the clock behind ctime ticks every few ms), then makes it.
func ctimeMoves(t *testing.T, name string, change func() error) {
	t.Helper()
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	before := statOf(fi)
	for range 100 {
		time.Sleep(5 * time.Millisecond)
		if err := change(); err != nil {
			t.Fatal(err)
		}
		if fi, err = os.Stat(name); err != nil {
			t.Fatal(err)
		}
		if statOf(fi).Ctime != before.Ctime {
			return
		}
	}
	t.Fatal("the change never moved the file's ctime")
}

// oneIndexedFile writes n random bytes to a file f of a new folder and
// indexes the folder.
func oneIndexedFile(t *testing.T, n int) (d *Disk, dir, name string, data []byte) {
	t.Helper()
	dir = t.TempDir()
	name = filepath.Join(dir, "f")
	data = random(t, n)
	write(t, name, data)
	d = openDisk(t, dir)
	scan(t, d)
	return d, dir, name, data
}

// TestMetadataChangeKeepsServing is a sysadmin's chmod -R (or chown, or a
// new hard link) on a served folder: only the files' ctime moves. Before,
// the pass dropped each such file and hashed it again, so every file of
// the folder answered "not found" until its turn came: 9 s for 4 GB here,
// hours for a dataset. Now the pass hashes it again (a content change whose
// mtime was put back looks the same) while the old entry stays served,
// and takes the new stat once the sums agree.
func TestMetadataChangeKeepsServing(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "big")
	data := random(t, 300*outboard.GroupSize)
	write(t, name, data)
	write(t, filepath.Join(dir, "small"), []byte("stays\n"))
	d := openDisk(t, dir)
	if st := scan(t, d); st.Hashed != 2 {
		t.Fatalf("first pass hashed %d files, want 2", st.Hashed)
	}

	ctimeMoves(t, name, func() error { return os.Chmod(name, 0o600) })
	ctimeMoves(t, name, func() error { return os.Chmod(name, 0o644) })

	// While the pass hashes it again, both faces still find the file.
	seen := 0
	d.hashHook = func(rel string) {
		if rel != "big" {
			return
		}
		seen++
		got, err := readAll(d, b3(data))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("while hashed again: READ of its blake3 gave %d bytes, %v", len(got), err)
		}
		if _, err := d.Lookup(context.Background(), "big"); err != nil {
			t.Errorf("while hashed again: Lookup: %v", err)
		}
	}
	st := scan(t, d)
	d.hashHook = nil
	if seen == 0 {
		t.Fatal("the pass did not hash the file whose ctime moved")
	}
	if st.Hashed != 1 || st.Removed != 0 || st.Files != 2 || st.Bytes != int64(len(data))+6 {
		t.Errorf("pass after chmod: %+v, want 1 hashed, 0 removed, 2 files of %d bytes", st, len(data)+6)
	}
	if st := scan(t, d); st.Hashed != 0 {
		t.Errorf("the next pass hashed %d files: the new stat was not recorded", st.Hashed)
	}
	if got, err := readAll(d, sha(data)); err != nil || !bytes.Equal(got, data) {
		t.Errorf("after the pass: READ gave %d bytes, %v", len(got), err)
	}
}

// TestContentChangedMtimeKept is new bytes written in place, of the same
// size, with the mtime put back to the nanosecond: only the ctime tells.
// The pass that follows must serve the new bytes under their own hashes
// and the old hashes no more.
func TestContentChangedMtimeKept(t *testing.T) {
	d, _, name, old := oneIndexedFile(t, 40*outboard.GroupSize)
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	mtime := fi.ModTime()

	neu := random(t, len(old))
	ctimeMoves(t, name, func() error {
		if err := os.WriteFile(name, neu, 0o644); err != nil {
			return err
		}
		return os.Chtimes(name, mtime, mtime)
	})
	if fi, err := os.Stat(name); err != nil || !fi.ModTime().Equal(mtime) || fi.Size() != int64(len(old)) {
		t.Fatalf("the mtime or size moved: %v %v", fi.ModTime(), err)
	}
	st := scan(t, d)
	if st.Hashed != 1 {
		t.Errorf("pass hashed %d files, want 1", st.Hashed)
	}
	for _, h := range []urn.Hash{sha(old), b3(old)} {
		if got, err := readAll(d, h); err == nil {
			t.Errorf("old hash %s still served (%d bytes)", h, len(got))
		}
	}
	if got, err := readAll(d, b3(neu)); err != nil || !bytes.Equal(got, neu) {
		t.Errorf("new bytes: READ gave %d bytes, %v", len(got), err)
	}
}

func TestNextPass(t *testing.T) {
	for _, c := range []struct{ interval, took, want time.Duration }{
		{30 * time.Second, 100 * time.Millisecond, 30 * time.Second},
		{30 * time.Second, 1500 * time.Millisecond, 30 * time.Second},
		{30 * time.Second, 10 * time.Second, 200 * time.Second},
		{time.Hour, time.Minute, time.Hour},
	} {
		if got := nextPass(c.interval, c.took); got != c.want {
			t.Errorf("nextPass(%v, %v) = %v, want %v", c.interval, c.took, got, c.want)
		}
	}
}

// TestSlowPassesSpaced: passes of 5 ms every 10 ms would take half the
// time; spaced to 20 times their length, 400 ms hold about 4, not 26.
func TestSlowPassesSpaced(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	var passes atomic.Int32
	WatchPasses(ctx, 10*time.Millisecond, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), "files",
		func(context.Context) (ScanStats, error) {
			passes.Add(1)
			time.Sleep(5 * time.Millisecond)
			return ScanStats{}, nil
		})
	if n := passes.Load(); n < 1 || n > 8 {
		t.Errorf("%d passes of 5 ms in 400 ms with --rescan 10ms; want 1 to 8", n)
	}
}

// TestLinkedKeptUnlinkedGone: a new hard link moves only the ctime, and
// the file stays served; removing it (or renaming another file over it)
// leaves open handles reading the same bytes, but it is served no more.
func TestLinkedKeptUnlinkedGone(t *testing.T) {
	d, dir, name, data := oneIndexedFile(t, 3*outboard.GroupSize)
	b, err := d.Open(context.Background(), sha(data))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctimeMoves(t, name, func() error {
		os.Remove(filepath.Join(dir, "link"))
		return os.Link(name, filepath.Join(dir, "link"))
	})
	if got, err := readAll(d, sha(data)); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("after a hard link: %d bytes, %v", len(got), err)
	}
	if err := os.Remove(filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(name); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Open(context.Background(), sha(data)); err == nil {
		t.Error("a removed file is still opened by its hash")
	}
	if _, err := b.ReadAt(make([]byte, 10), 0); err == nil {
		t.Error("a READ of a removed file succeeded")
	}
}
