package store

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
)

// TestBlobsShareDescriptors: many OPENs of one file hold one descriptor,
// closed with the last blob; a new version of the file gets its own.
func TestBlobsShareDescriptors(t *testing.T) {
	dir := t.TempDir()
	old := random(t, 4096)
	write(t, filepath.Join(dir, "f"), old)
	d := openDisk(t, dir)
	scan(t, d)
	ctx := context.Background()
	var blobs []Blob
	for range 500 {
		b, err := d.Open(ctx, sha(old))
		if err != nil {
			t.Fatal(err)
		}
		blobs = append(blobs, b)
	}
	if n := d.handles.count(); n != 1 {
		t.Fatalf("500 blobs of one file hold %d descriptors, want 1", n)
	}

	// A new version, same size: old blobs keep the old descriptor and fail
	// their check; the new blob has a descriptor of its own.
	fresh := random(t, 4096)
	write(t, filepath.Join(dir, "f"), fresh)
	scan(t, d)
	nb, err := d.Open(ctx, sha(fresh))
	if err != nil {
		t.Fatal(err)
	}
	if n := d.handles.count(); n != 2 {
		t.Errorf("old and new version: %d descriptors, want 2", n)
	}
	p := make([]byte, 4096)
	if n, err := nb.ReadAt(p, 0); n != len(p) || err != nil || !bytes.Equal(p, fresh) {
		t.Errorf("new version: %d bytes, %v", n, err)
	}
	if _, err := blobs[0].ReadAt(p, 0); err == nil {
		t.Error("a blob of the old version read without error after the rewrite")
	}

	for _, b := range blobs {
		b.Close()
	}
	blobs[0].Close() // a second Close must not drop another blob's hold
	if n := d.handles.count(); n != 1 {
		t.Errorf("after closing the old blobs: %d descriptors, want 1", n)
	}
	if n, err := nb.ReadAt(p, 0); n != len(p) || err != nil {
		t.Errorf("new version after the old closed: %d bytes, %v", n, err)
	}
	nb.Close()
	if n := d.handles.count(); n != 0 {
		t.Errorf("all closed: %d descriptors open, want 0", n)
	}
}
