package urn

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// A file mapped for hashing and truncated under the hashers (another
// process cutting a partial download short) makes the pages past its new
// end fault: HashPieces returns that as an error, it does not crash. (Only
// for sha256: see HashPieces.)
func TestHashPiecesTruncatedMapping(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, make([]byte, 4<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := unix.Mmap(int(f.Fd()), 0, 4<<20, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(b)
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	next, held := pieces(b, 1<<20)
	_, err = HashPieces(next, SHA256)
	if err == nil || !strings.Contains(err.Error(), "memory fault") {
		t.Errorf("err = %v, want a memory fault", err)
	}
	if n := held(); n != 0 {
		t.Errorf("%d pieces never released", n)
	}
}
