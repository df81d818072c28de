package store

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestLookupAndListUnder(t *testing.T) {
	dir := t.TempDir()
	one, two := random(t, 100), random(t, 200)
	write(t, filepath.Join(dir, "a", "one"), one)
	write(t, filepath.Join(dir, "a", "b", "two"), two)
	write(t, filepath.Join(dir, "ab"), nil)
	write(t, filepath.Join(dir, "top"), nil)
	d := openDisk(t, dir)
	scan(t, d)
	ctx := context.Background()

	e, err := d.Lookup(ctx, "a/b/two")
	if err != nil || e.Size != 200 || e.Hashes()[1] != sha(two) {
		t.Fatalf("Lookup(a/b/two) = %+v, %v", e, err)
	}
	for _, p := range []string{"a", "a/", "nope", "/a/one", ".rtpd/index.db", "../x"} {
		if _, err := d.Lookup(ctx, p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Lookup(%q): %v, want fs.ErrNotExist", p, err)
		}
	}

	under := func(dir string) []string {
		var got []string
		if err := d.ListUnder(ctx, dir, func(e Entry) error { got = append(got, e.Path); return nil }); err != nil {
			t.Fatal(err)
		}
		return got
	}
	for _, c := range []struct {
		dir  string
		want []string
	}{
		{"", []string{"a/b/two", "a/one", "ab", "top"}},
		{"a", []string{"a/b/two", "a/one"}},
		{"a/", []string{"a/b/two", "a/one"}},
		{"a/b", []string{"a/b/two"}},
		{"top", nil},
		{"nope", nil},
	} {
		if got := under(c.dir); !slices.Equal(got, c.want) {
			t.Errorf("ListUnder(%q) = %q, want %q", c.dir, got, c.want)
		}
	}

	// Replaced but not yet rescanned: the old entry is not handed out.
	time.Sleep(10 * time.Millisecond)
	write(t, filepath.Join(dir, "a", "one"), two)
	if _, err := d.Lookup(ctx, "a/one"); !errors.Is(err, ErrChanged) {
		t.Fatalf("Lookup of a replaced file: %v, want ErrChanged", err)
	}
	scan(t, d)
	if e, err := d.Lookup(ctx, "a/one"); err != nil || e.Hashes()[0] != b3(two) {
		t.Fatalf("after the rescan: %+v, %v", e, err)
	}
	// A new file is not hashed yet, not missing.
	write(t, filepath.Join(dir, "new"), one)
	if _, err := d.Lookup(ctx, "new"); !errors.Is(err, ErrChanged) {
		t.Fatalf("Lookup of a file not yet scanned: %v, want ErrChanged", err)
	}

	// Reached through a symlink to a folder, which the pass does not
	// walk: not found, and no pass asked for (each request would start
	// one).
	if err := os.Symlink("a", filepath.Join(dir, "alink")); err != nil {
		t.Fatal(err)
	}
	scan(t, d)
	select {
	case <-d.rescan:
	default:
	}
	if _, err := d.Lookup(ctx, "alink/one"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Lookup through a symlinked folder: %v, want fs.ErrNotExist", err)
	}
	select {
	case <-d.rescan:
		t.Error("Lookup through a symlinked folder asked for a pass")
	default:
	}
}
