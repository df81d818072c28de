package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"go.etcd.io/bbolt"

	"github.com/rtp-project/rtp/outboard"
	"github.com/rtp-project/rtp/urn"
)

func readTree(t *testing.T, d *Disk, h urn.Hash) ([]byte, error) {
	t.Helper()
	b, err := d.OpenTree(context.Background(), h)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	p := make([]byte, b.Size())
	if _, err := b.ReadAt(p, 0); err != nil {
		t.Fatal(err)
	}
	return p, nil
}

func TestTrees(t *testing.T) {
	dir := t.TempDir()
	files := map[string][]byte{
		"empty":  nil,
		"one":    random(t, 100),
		"group":  random(t, outboard.GroupSize),
		"inline": random(t, 3<<20+5),
		"file":   random(t, 17<<20),
	}
	for name, data := range files {
		write(t, filepath.Join(dir, name), data)
	}
	write(t, filepath.Join(dir, "copy"), files["file"])
	d := openDisk(t, dir)
	scan(t, d)
	for name, data := range files {
		tree, err := readTree(t, d, b3(data))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		tr, err := outboard.NewTree(tree, b3(data).Sum, int64(len(data)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := tr.Check(0, data); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := readTree(t, d, sha(files["one"])); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("tree of a sha256: %v", err)
	}
	trees, _ := os.ReadDir(d.treeDir())
	if len(trees) != 1 || trees[0].Name() != b3(files["file"]).Hex() {
		t.Errorf("tree files: %v, want just the 17 MiB one's", trees)
	}

	// A copy keeps the tree alive; the last one gone removes it.
	os.Remove(filepath.Join(dir, "file"))
	scan(t, d)
	if _, err := readTree(t, d, b3(files["file"])); err != nil {
		t.Errorf("tree gone with one of two copies: %v", err)
	}
	os.Remove(filepath.Join(dir, "copy"))
	os.Remove(filepath.Join(dir, "inline"))
	scan(t, d)
	for _, name := range []string{"file", "inline"} {
		if _, err := readTree(t, d, b3(files[name])); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: tree of a removed file: %v", name, err)
		}
	}
	if trees, _ := os.ReadDir(d.treeDir()); len(trees) != 0 {
		t.Errorf("tree files left: %v", trees)
	}
	d.db.View(func(tx *bbolt.Tx) error {
		if n := tx.Bucket(bucketTree).Stats().KeyN; n != 0 {
			t.Errorf("%d trees left in the index", n)
		}
		return nil
	})
}

// An index written before trees, or with them off, gets them on the next
// start that builds them.
func TestTreesBuiltForOldEntries(t *testing.T) {
	dir := t.TempDir()
	data := random(t, 100<<10)
	write(t, filepath.Join(dir, "f"), data)
	d, err := OpenDisk(dir, Options{NoTrees: true})
	if err != nil {
		t.Fatal(err)
	}
	scan(t, d)
	if _, err := readTree(t, d, b3(data)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("NoTrees served a tree: %v", err)
	}
	d.Close()
	d = openDisk(t, dir)
	if st := scan(t, d); st.Hashed != 1 {
		t.Errorf("hashed %d files, want the one without a tree", st.Hashed)
	}
	if _, err := readTree(t, d, b3(data)); err != nil {
		t.Error(err)
	}
	if st := scan(t, d); st.Hashed != 0 {
		t.Errorf("rehashed %d files", st.Hashed)
	}
}

// TestTreesOfIndexesInOneFolder: two indexes in one folder, of two served
// folders, scanned at once: neither sweeps away the other's trees.
func TestTreesOfIndexesInOneFolder(t *testing.T) {
	idx := t.TempDir()
	var disks []*Disk
	var datas [][]byte
	for i := range 2 {
		dir := t.TempDir()
		data := random(t, 17<<20+i)
		write(t, filepath.Join(dir, "f"), data)
		d, err := OpenDisk(dir, Options{Index: filepath.Join(idx, fmt.Sprintf("%d.db", i))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		disks, datas = append(disks, d), append(datas, data)
	}
	errs := make(chan error, 2)
	for _, d := range disks {
		go func() { _, err := d.Scan(context.Background()); errs <- err }()
	}
	for range disks {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for i, d := range disks {
		scan(t, d) // a second pass sweeps: it must keep the other's tree
		if _, err := readTree(t, d, b3(datas[i])); err != nil {
			t.Errorf("index %d: %v", i, err)
		}
	}
}
