//go:build !linux

package main

import (
	"io/fs"
	"os"
)

// syncEach: each part is synced as it is written; there is no syncfs.
const syncEach = true

// noFollow: not known here; os.Root still keeps every open inside the
// target, and final names are looked at (Lstat) before each rename.
const noFollow = 0

// fileID is not known here: files present are trusted on size and mtime.
func fileID(fs.FileInfo) (ino uint64, ctime int64) { return 0, 0 }

// syncAll does nothing: every part was synced when written.
func syncAll(*os.File) error { return nil }

// dirHandles: none here; every operation goes through the os.Root.
type dirHandles struct{}

func (t *treeDir) openHandles() error { return nil }
func (t *treeDir) closeHandles()      {}
func (t *treeDir) dropHandles()       {}

func (t *treeDir) lookFinal(p string) (fs.FileInfo, error) { return t.lookFinalRoot(p) }

func (t *treeDir) place(part, p string) (fs.FileInfo, error) { return t.placeRoot(part, p) }

// createPart opens the part name for writing, emptied.
func (t *treeDir) createPart(name string, exec bool) (*os.File, error) {
	return t.parts.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, partMode(exec))
}

// modeNeedsChmod: an old part may have been reused, and the umask is not
// known: always set the mode.
func modeNeedsChmod(bool) bool { return true }

// writeBytes writes b as the part name.
func (t *treeDir) writeBytes(name string, exec bool, b []byte) error {
	return t.writePart(name, exec, func(f *os.File) error {
		_, err := f.Write(b)
		return err
	})
}
