package main

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// reserve allocates the whole file on disk before the download starts, so a
// disk too small fails at once instead of part way through, and the space
// can't be taken by another writer meanwhile. A file system that can't
// preallocate is left sparse; a full disk then shows up as the first
// failed write.
func reserve(f *os.File, n int64) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		for {
			ferr = unix.Fallocate(int(fd), 0, 0, n)
			if ferr != unix.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	if errors.Is(ferr, unix.EOPNOTSUPP) || errors.Is(ferr, unix.ENOSYS) {
		return nil
	}
	return ferr
}
