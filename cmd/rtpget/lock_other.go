//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package main

import (
	"errors"
	"os"
)

// errLocked: another process holds the lock.
var errLocked = errors.New("locked")

// renameOpen: Windows does not rename a file that is open, so NAME.part is
// closed before its rename.
const renameOpen = false

// lockFile is a no-op here: two rtpget runs on one name are not kept apart
// on this system. (The final rename still never replaces a file that
// appeared meanwhile, unless --force.)
func lockFile(*os.File) error { return nil }
