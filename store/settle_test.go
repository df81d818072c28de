package store

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestRacyFileWaits: a file is read for its hash only once its mtime is
// racyWindow old, so a write still going on (its mtime is when it began),
// or one more write within the same timestamp tick, cannot hide behind a
// stat that matches; the file written just now is still served by the same
// pass. A file whose mtime is in the future is not waited for.
func TestRacyFileWaits(t *testing.T) {
	dir := t.TempDir()
	small, big := filepath.Join(dir, "small"), filepath.Join(dir, "big")
	smallData, bigData := random(t, 1000), random(t, 2<<20)
	write(t, small, smallData)
	write(t, big, bigData)
	future := filepath.Join(dir, "future")
	write(t, future, []byte("set by hand\n"))
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(future, later, later); err != nil {
		t.Fatal(err)
	}
	d, err := OpenDisk(dir, Options{Index: filepath.Join(t.TempDir(), "index.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	var mu sync.Mutex
	age := map[string]time.Duration{} // mtime's age when the hash first read
	d.hashHook = func(rel string) {
		mu.Lock()
		defer mu.Unlock()
		if _, ok := age[rel]; ok {
			return
		}
		fi, err := os.Stat(filepath.Join(dir, rel))
		if err != nil {
			t.Error(err)
			return
		}
		age[rel] = time.Since(fi.ModTime())
	}
	st := scan(t, d)
	if st.Files != 3 || st.Skipped != 0 {
		t.Fatalf("%+v, want the 3 files served by the first pass", st)
	}
	for _, rel := range []string{"small", "big"} {
		if a, ok := age[rel]; !ok || a < racyWindow {
			t.Errorf("%s read for its hash when its mtime was %v old (seen %v), want at least %v", rel, a, ok, racyWindow)
		}
	}
	if a := age["future"]; a >= 0 {
		t.Errorf("future: mtime %v old, want in the future", a)
	}
	for _, c := range []struct {
		name string
		data []byte
	}{{"small", smallData}, {"big", bigData}} {
		got, err := readAll(d, sha(c.data))
		if err != nil || !bytes.Equal(got, c.data) {
			t.Errorf("%s: %d bytes, %v", c.name, len(got), err)
		}
	}
}
