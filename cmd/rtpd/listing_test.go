package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rtp-project/rtp/store"
)

// rtpd ls prints a file name that holds an escape sequence, a line break
// or bytes that are not UTF-8 quoted, one line a file, so the terminal
// gets no control character from a name in the served folder.
func TestListingQuotesHostileNames(t *testing.T) {
	dir := t.TempDir()
	names := []string{"plain.bin", "esc\x1b[31mred", "two\nlines", "bad\xffutf8", "bidi\u202egnp.exe"}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	disk, err := store.OpenDisk(dir, store.Options{Index: filepath.Join(t.TempDir(), "index.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer disk.Close()
	if _, err := disk.Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := writeListing(context.Background(), &out, disk); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 1+len(names) {
		t.Fatalf("%d lines for %d files:\n%s", len(lines), len(names), out.String())
	}
	for _, r := range out.String() {
		if r != '\n' && (r < ' ' || r == 0x7f || r == '\u202e' || r == 0xfffd) {
			t.Fatalf("the listing holds %U:\n%q", r, out.String())
		}
	}
	for _, want := range []string{`"esc\x1b[31mred"`, `"two\nlines"`, `"bad\xffutf8"`, `"bidi\u202egnp.exe"`, " plain.bin "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the listing lacks %s:\n%s", want, out.String())
		}
	}
}
