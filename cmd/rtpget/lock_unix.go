//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package main

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// errLocked: another process holds the lock.
var errLocked = errors.New("locked")

// renameOpen: a file may be renamed while it is open, so the lock on
// NAME.part is held until it has its final name.
const renameOpen = true

// lockFile takes an exclusive flock on f without waiting. It is released
// when f is closed, or when the process ends, however it ends.
func lockFile(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		for {
			ferr = unix.Flock(int(fd), unix.LOCK_EX|unix.LOCK_NB)
			if ferr != unix.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	if errors.Is(ferr, unix.EWOULDBLOCK) {
		return errLocked
	}
	return ferr
}
