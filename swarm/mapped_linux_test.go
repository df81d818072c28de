package swarm

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rtp-project/rtp/urn"
)

// The mapped source hands out each block once it is done, in order however
// the blocks finish, across window boundaries and a short last block; and
// once the last piece is released no mapping of the file is left.
func TestMappedPieces(t *testing.T) {
	const bs = 3 << 20 // windows (8 MiB) end inside blocks
	size := int64(5*bs + 12345)
	data := make([]byte, size)
	rand.Read(data)
	path := filepath.Join(t.TempDir(), "out.part")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	d := &Download{plan: newPlan(size, bs, time.Second), out: f}
	next, ok := d.mappedPieces()
	if !ok {
		t.Fatal("a regular file was not mapped")
	}
	sums := make(chan urn.Sums, 1)
	go func() {
		s, err := urn.HashPieces(next, urn.SHA256)
		if err != nil {
			t.Error(err)
		}
		sums <- s
	}()
	for _, i := range []int{3, 1, 5, 0, 4, 2} { // the hasher waits on block 0
		off, n := d.plan.span(i)
		if _, err := f.WriteAt(data[off:off+n], off); err != nil {
			t.Fatal(err)
		}
		b := &d.plan.blocks[i]
		b.mu.Lock()
		d.plan.finishLocked(i, 0, false)
		b.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	s := <-sums
	if s.N != size || s.SHA256 != sha256.Sum256(data) {
		t.Errorf("hashed %d bytes, sha256 match %v; want %d and true", s.N, s.SHA256 == sha256.Sum256(data), size)
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(maps, []byte(path)) {
		t.Errorf("%s is still mapped:\n%s", path, grepLines(string(maps), path))
	}
}

// An aborted download ends the mapped source with an error, and unmaps.
func TestMappedPiecesAbort(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.part")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := &Download{plan: newPlan(20<<20, 1<<20, time.Second), out: f}
	next, ok := d.mappedPieces()
	if !ok {
		t.Fatal("not mapped")
	}
	time.AfterFunc(20*time.Millisecond, d.plan.abort)
	if _, err := urn.HashPieces(next, urn.SHA256); err == nil {
		t.Error("no error after abort")
	}
	maps, _ := os.ReadFile("/proc/self/maps")
	if bytes.Contains(maps, []byte(path)) {
		t.Errorf("%s is still mapped", path)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
