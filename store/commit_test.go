package store

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// smallFiles writes n files of 1 KiB, 100 to a folder, and returns their
// bytes by path.
func smallFiles(t *testing.T, dir string, n int) map[string][]byte {
	t.Helper()
	files := make(map[string][]byte, n)
	for i := range n {
		p := fmt.Sprintf("%02d/%04d", i/100, i)
		files[p] = random(t, 1024)
		write(t, filepath.Join(dir, p), files[p])
	}
	return files
}

// lastTx is the id of the last write transaction committed to d's index.
func lastTx(t *testing.T, d *Disk) int {
	t.Helper()
	var id int
	if err := d.db.View(func(tx *bbolt.Tx) error { id = tx.ID(); return nil }); err != nil {
		t.Fatal(err)
	}
	return id
}

// checkEntries checks that every entry of d's index has the sums of the
// file's bytes, and returns how many there are.
func checkEntries(t *testing.T, d *Disk, files map[string][]byte) int {
	t.Helper()
	n := 0
	err := d.List(context.Background(), func(e Entry) error {
		n++
		b, ok := files[e.Path]
		switch {
		case !ok:
			t.Errorf("%s: indexed, but no such file", e.Path)
		case e.Size != int64(len(b)) || e.SHA256 != sha(b).Sum || e.BLAKE3 != b3(b).Sum:
			t.Errorf("%s: wrong entry", e.Path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestIndexPassCommitsInGroups: the first pass over 2,000 small files
// commits them in groups (a transaction, so an fsync, per commitMax files
// or commitEvery), not one transaction per file, and records each right.
func TestIndexPassCommitsInGroups(t *testing.T) {
	const n = 2000
	dir := t.TempDir()
	files := smallFiles(t, dir, n)
	d := openDisk(t, dir)
	before := lastTx(t, d)
	start := time.Now()
	st := scan(t, d)
	elapsed := time.Since(start)
	commits := lastTx(t, d) - before
	// Groups close on size or on age, and a group's age counts from its
	// first file, so no more than this many commits can happen in elapsed.
	limit := n/commitMax + int(elapsed/commitEvery) + 2
	t.Logf("%d files in %v: %d write transactions (at most %d allowed)", n, elapsed.Round(time.Millisecond), commits, limit)
	if commits > limit {
		t.Errorf("%d write transactions for %d files in %v, want at most %d", commits, n, elapsed.Round(time.Millisecond), limit)
	}
	if st.Hashed != n || st.Files != n {
		t.Errorf("hashed %d, serving %d, want %d", st.Hashed, st.Files, n)
	}
	if got := checkEntries(t, d, files); got != n {
		t.Errorf("%d entries, want %d", got, n)
	}
}

const crashChildEnv = "STORE_TEST_CRASH_CHILD"

// TestKilledBetweenGroups: a process indexing more small files than fit in a
// group is killed
// with SIGKILL after its first group is committed, with more files hashed
// and waiting for the next. Reopened, the index holds
// the committed files, each right, and the next pass adds the rest.
func TestKilledBetweenGroups(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		// The child: index dir and, once the first group is committed,
		// say so and stop there, the pass unfinished, until killed.
		afterCommit = func(files int) {
			fmt.Printf("committed %d\n", files)
			select {}
		}
		d, err := OpenDisk(dir, Options{})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		d.Scan(context.Background())
		fmt.Println("done")
		select {}
	}
	const n = commitMax + 1000
	dir := t.TempDir()
	files := smallFiles(t, dir, n)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestKilledBetweenGroups$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(out)
	var line string
	for sc.Scan() {
		if line = sc.Text(); strings.HasPrefix(line, "committed ") || line == "done" || strings.HasPrefix(line, "error") {
			break
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	if !strings.HasPrefix(line, "committed ") {
		t.Fatalf("child said %q, want a committed group before the end of its pass", line)
	}
	var first int
	fmt.Sscanf(line, "committed %d", &first)

	d := openDisk(t, dir)
	got := checkEntries(t, d, files)
	t.Logf("killed after a group of %d; %d entries survived", first, got)
	if got != first {
		t.Errorf("%d entries after the kill, want the first group's %d", got, first)
	}
	st := scan(t, d)
	if st.Hashed != n-got || st.Files != n {
		t.Errorf("the pass after the kill hashed %d and serves %d, want %d and %d", st.Hashed, st.Files, n-got, n)
	}
	if all := checkEntries(t, d, files); all != n {
		t.Errorf("%d entries, want %d", all, n)
	}
}
