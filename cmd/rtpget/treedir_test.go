package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lukechampine.com/blake3"
)

// TestTreeDirSwappedForLink: a folder rtpget already made (and holds a
// handle on) is replaced by a link, or a final name by a link, between the
// inventory and the placing: the placing refuses, and nothing is written
// where the link points.
func TestTreeDirSwappedForLink(t *testing.T) {
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "x"), []byte("outside"), 0o644)
	target := filepath.Join(t.TempDir(), "t")
	d, err := openTreeDir(target)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, p := range []string{"a/x", "b/c/x", "y", "e/x"} {
		if fi, err := d.lookFinal(p); err != nil || fi != nil {
			t.Fatalf("%s: %v %v", p, fi, err)
		}
	}
	for _, part := range []string{"p1", "p2", "p3", "p4"} {
		if err := d.writeBytes(part, false, []byte("new")); err != nil {
			t.Fatal(err)
		}
	}
	// A folder and a folder on the way, removed and replaced by links.
	os.RemoveAll(filepath.Join(target, "a"))
	os.Symlink(outside, filepath.Join(target, "a"))
	os.RemoveAll(filepath.Join(target, "b"))
	os.Symlink(outside, filepath.Join(target, "b"))
	os.Mkdir(filepath.Join(outside, "c"), 0o755)
	// A final name that appeared as a link to a file outside.
	os.Symlink(filepath.Join(outside, "x"), filepath.Join(target, "y"))
	for part, p := range map[string]string{"p1": "a/x", "p2": "b/c/x", "p3": "y"} {
		if _, err := d.place(part, p); err == nil || !strings.Contains(err.Error(), "symbolic link") {
			t.Errorf("placing %s through a link: %v", p, err)
		}
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 2 {
		t.Errorf("written outside the target: %v", ents)
	}
	if ents, _ := os.ReadDir(filepath.Join(outside, "c")); len(ents) != 0 {
		t.Errorf("written outside the target: %v", ents)
	}
	if b, _ := os.ReadFile(filepath.Join(outside, "x")); string(b) != "outside" {
		t.Errorf("the file a link points to was changed: %q", b)
	}
	// A folder removed and made again by someone else: the file goes in.
	os.Remove(filepath.Join(target, "e"))
	os.Mkdir(filepath.Join(target, "e"), 0o755)
	fi, err := d.place("p4", "e/x")
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o644 {
		t.Fatalf("placing into a folder made again: %v %v", fi, err)
	}
	if b, _ := os.ReadFile(filepath.Join(target, "e", "x")); string(b) != "new" {
		t.Errorf("placed %q", b)
	}
}

// TestTreeDirKeepsFileThatAppeared: a regular file that appears at a path
// between the inventory (nothing there) and the placing is the user's: it
// is kept and the placing fails, unless the inventory chose to replace
// that path (an older version rtpget placed, or --force).
func TestTreeDirKeepsFileThatAppeared(t *testing.T) {
	target := filepath.Join(t.TempDir(), "t")
	d, err := openTreeDir(target)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, p := range []string{"s/mine", "s/old"} {
		if fi, err := d.lookFinal(p); err != nil || fi != nil {
			t.Fatalf("%s: %v %v", p, fi, err)
		}
		if err := os.WriteFile(filepath.Join(target, p), []byte("the user's"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, part := range []string{"p1", "p2"} {
		if err := d.writeBytes(part, false, []byte("new")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.place("p1", "s/mine"); err == nil || !strings.Contains(err.Error(), "appeared during the download") {
		t.Errorf("placing over a file that appeared: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(target, "s/mine")); string(b) != "the user's" {
		t.Errorf("a file that appeared was replaced: %q", b)
	}
	d.replace["s/old"] = true
	if _, err := d.place("p2", "s/old"); err != nil {
		t.Fatalf("placing over a path the inventory chose to replace: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(target, "s/old")); string(b) != "new" {
		t.Errorf("placed %q", b)
	}
}

// TestTreeDirCopyInChecks: a file of the tree copied into a part for
// another path is checked as it is copied: bytes that are not the
// content's (the file changed after it was looked at) make no part.
func TestTreeDirCopyInChecks(t *testing.T) {
	target := filepath.Join(t.TempDir(), "t")
	d, err := openTreeDir(target)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	data := []byte("the tree's bytes")
	os.WriteFile(filepath.Join(target, "a"), data, 0o644)
	if err := d.copyIn("a", "good", false, blake3.Sum256(data)); err != nil {
		t.Fatalf("copy of the right bytes: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(target, partsDir, "good")); err != nil || !bytes.Equal(b, data) {
		t.Errorf("part: %q, %v", b, err)
	}
	err = d.copyIn("a", "bad", false, blake3.Sum256([]byte("other bytes")))
	if err == nil || !strings.Contains(err.Error(), "changed") {
		t.Errorf("copy of other bytes: %v, want an error saying the file changed", err)
	}
	if _, err := os.Lstat(filepath.Join(target, partsDir, "bad")); err == nil {
		t.Error("a part of the wrong bytes was left")
	}
}
