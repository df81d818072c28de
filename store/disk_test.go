package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"lukechampine.com/blake3"

	"github.com/rtp-project/rtp/urn"
)

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func random(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func openDisk(t *testing.T, dir string) *Disk {
	t.Helper()
	d, err := OpenDisk(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func scan(t *testing.T, d *Disk) ScanStats {
	t.Helper()
	st, err := d.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func sha(b []byte) urn.Hash { return urn.New(urn.SHA256, sha256.Sum256(b)) }
func b3(b []byte) urn.Hash  { return urn.New(urn.BLAKE3, blake3.Sum256(b)) }

// readAll opens h and reads the whole blob.
func readAll(d *Disk, h urn.Hash) ([]byte, error) {
	b, err := d.Open(context.Background(), h)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	buf := make([]byte, b.Size())
	n, err := b.ReadAt(buf, 0)
	if err == io.EOF && int64(n) == b.Size() {
		err = nil
	}
	return buf[:n], err
}

func TestScanAndOpen(t *testing.T) {
	dir := t.TempDir()
	a, big := random(t, 100), random(t, 3*(1<<20)+5)
	write(t, filepath.Join(dir, "a"), a)
	write(t, filepath.Join(dir, "sub", "big"), big)
	write(t, filepath.Join(dir, "sub", "dup"), a)
	write(t, filepath.Join(dir, "empty"), nil)
	d := openDisk(t, dir)
	st := scan(t, d)
	if st.Files != 4 || st.Hashed != 4 {
		t.Fatalf("first pass: %+v, want 4 files hashed", st)
	}
	for _, data := range [][]byte{a, big, nil} {
		for _, h := range []urn.Hash{sha(data), b3(data)} {
			got, err := readAll(d, h)
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("Open(%v): %d bytes, %v", h, len(got), err)
			}
		}
	}
	if _, err := d.Open(context.Background(), sha([]byte("absent"))); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("absent hash: %v, want fs.ErrNotExist", err)
	}
	// The index folder is not served.
	var paths []string
	d.List(context.Background(), func(e Entry) error { paths = append(paths, e.Path); return nil })
	want := []string{"a", "empty", "sub/big", "sub/dup"}
	if len(paths) != len(want) {
		t.Fatalf("List = %v, want %v", paths, want)
	}
	for i := range want {
		if paths[i] != want[i] {
			t.Errorf("List = %v, want %v", paths, want)
		}
	}
	// One of two duplicates removed: still served from the other.
	os.Remove(filepath.Join(dir, "a"))
	st = scan(t, d)
	if st.Removed != 1 || st.Hashed != 0 {
		t.Errorf("after remove: %+v", st)
	}
	if got, err := readAll(d, sha(a)); err != nil || !bytes.Equal(got, a) {
		t.Errorf("duplicate after remove: %v", err)
	}
}

func TestRestartRehashesNothing(t *testing.T) {
	dir := t.TempDir()
	for i := range 20 {
		write(t, filepath.Join(dir, "f", string(rune('a'+i))), random(t, 1000+i))
	}
	d, err := OpenDisk(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if st := scan(t, d); st.Hashed != 20 {
		t.Fatalf("first pass hashed %d, want 20", st.Hashed)
	}
	d.Close()
	d = openDisk(t, dir)
	if st := scan(t, d); st.Hashed != 0 || st.Files != 20 {
		t.Errorf("second pass: %+v, want 0 hashed, 20 files", st)
	}
}

func TestRewriteInPlace(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	old := random(t, 2*(1<<20))
	write(t, p, old)
	d := openDisk(t, dir)
	scan(t, d)

	// A blob opened before the rewrite refuses to read after it.
	b, err := d.Open(context.Background(), sha(old))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // distinct mtime on coarse clocks
	f.WriteAt([]byte("new bytes"), 100)
	f.Close()
	if _, err := b.ReadAt(make([]byte, 1000), 0); !errors.Is(err, ErrChanged) {
		t.Errorf("ReadAt after rewrite: %v, want ErrChanged", err)
	}
	// Opening by the old hash fails at once, before any rescan.
	if _, err := d.Open(context.Background(), sha(old)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open of old hash after rewrite: %v, want fs.ErrNotExist", err)
	}
	// The rescan serves the new bytes under their own hash.
	scan(t, d)
	now, _ := os.ReadFile(p)
	if got, err := readAll(d, b3(now)); err != nil || !bytes.Equal(got, now) {
		t.Errorf("new hash after rescan: %v", err)
	}
	if _, err := d.Open(context.Background(), sha(old)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("old hash after rescan: %v", err)
	}
}

func TestSymlinks(t *testing.T) {
	outside := t.TempDir()
	secret := random(t, 64)
	write(t, filepath.Join(outside, "secret"), secret)
	dir := t.TempDir()
	inside := random(t, 64)
	write(t, filepath.Join(dir, "real"), inside)
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "escape")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../"+filepath.Base(outside)+"/secret", filepath.Join(dir, "relescape")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real", filepath.Join(dir, "alias")); err != nil {
		t.Fatal(err)
	}
	d := openDisk(t, dir)
	st := scan(t, d)
	if st.Skipped != 2 {
		t.Errorf("skipped %d, want the 2 escaping symlinks", st.Skipped)
	}
	if _, err := d.Open(context.Background(), sha(secret)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("file behind an escaping symlink: %v, want fs.ErrNotExist", err)
	}
	if got, err := readAll(d, sha(inside)); err != nil || !bytes.Equal(got, inside) {
		t.Errorf("file inside: %v", err)
	}
	// A link swapped to point outside after indexing is not followed, even
	// before a rescan and even to the same bytes.
	os.Remove(filepath.Join(dir, "real"))
	os.Remove(filepath.Join(dir, "alias"))
	write(t, filepath.Join(outside, "copy"), inside)
	if err := os.Symlink(filepath.Join(outside, "copy"), filepath.Join(dir, "alias")); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Open(context.Background(), sha(inside)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("swapped symlink: %v, want fs.ErrNotExist", err)
	}
}

func TestIndexLocked(t *testing.T) {
	dir := t.TempDir()
	openDisk(t, dir)
	if _, err := OpenDisk(dir, Options{}); !errors.Is(err, ErrLocked) {
		t.Errorf("second OpenDisk: %v, want ErrLocked", err)
	}
}

// TestScanOutOfDescriptors: a pass that cannot open a folder because the
// process is out of file descriptors (a flood of connections can do that)
// fails and keeps the index as it was; it once took every file below for
// gone and dropped it, to hash it all again on the next pass.
func TestScanOutOfDescriptors(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a", "x"), random(t, 100))
	write(t, filepath.Join(dir, "a", "b", "y"), random(t, 100))
	write(t, filepath.Join(dir, "top"), random(t, 100))
	d := openDisk(t, dir)
	if st := scan(t, d); st.Files != 3 {
		t.Fatalf("first pass: %+v", st)
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	// The lowest free descriptor: with the limit there, no open succeeds.
	free := 0
	for ; ; free++ {
		if _, err := os.Lstat(fmt.Sprintf("/proc/self/fd/%d", free)); err != nil {
			break
		}
	}
	low := lim
	low.Cur = uint64(free)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Skipf("cannot lower the descriptor limit: %v", err)
	}
	st, err := d.Scan(context.Background())
	syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	if !errors.Is(err, syscall.EMFILE) {
		t.Errorf("the pass out of descriptors: %+v, %v; want it to fail with EMFILE", st, err)
	}
	var n int
	d.List(context.Background(), func(Entry) error { n++; return nil })
	if n != 3 {
		t.Errorf("%d files indexed after it, want the 3 from before", n)
	}
	if st := scan(t, d); st.Files != 3 || st.Hashed != 0 {
		t.Errorf("the pass after: %+v, want 3 files and none hashed again", st)
	}
}
