package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A Disk as a Backend: Count sums what the index serves, IndexFile is the
// bbolt file, Health is nil while the index reads and an "index: " error
// once it cannot.
func TestDiskAsBackend(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a"), random(t, 1000))
	write(t, filepath.Join(dir, "sub", "b"), random(t, 24))
	write(t, filepath.Join(dir, "empty"), nil)
	index := filepath.Join(t.TempDir(), "index.db")
	d, err := OpenDisk(dir, Options{Index: index})
	if err != nil {
		t.Fatal(err)
	}
	var b Backend = d
	ctx := context.Background()
	if err := b.Health(ctx); err != nil {
		t.Errorf("Health of an empty index: %v", err)
	}
	if files, bytes, err := b.Count(ctx); files != 0 || bytes != 0 || err != nil {
		t.Errorf("Count before a pass = %d, %d, %v; want 0, 0, nil", files, bytes, err)
	}
	if _, err := b.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if files, bytes, err := b.Count(ctx); files != 3 || bytes != 1024 || err != nil {
		t.Errorf("Count = %d, %d, %v; want 3, 1024, nil", files, bytes, err)
	}
	if err := b.Health(ctx); err != nil {
		t.Errorf("Health: %v", err)
	}
	if fi, err := os.Stat(b.IndexFile()); err != nil || fi.Size() == 0 || filepath.Clean(b.IndexFile()) != index {
		t.Errorf("IndexFile %q, want %q (stat: %v)", b.IndexFile(), index, err)
	}
	if abs, _ := filepath.EvalSymlinks(dir); b.Location() != abs {
		t.Errorf("Location %q, want %q", b.Location(), abs)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Health(ctx); err == nil || !strings.HasPrefix(err.Error(), "index: ") {
		t.Errorf("Health of a closed index = %v, want an index: error", err)
	}
	if _, _, err := b.Count(ctx); err == nil {
		t.Error("Count of a closed index did not fail")
	}
}
