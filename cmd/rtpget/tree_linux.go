package main

import (
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// syncEach: false where syncAll makes a whole batch durable at once.
const syncEach = false

// noFollow opens a file only if it is not a symbolic link.
const noFollow = syscall.O_NOFOLLOW

// fileID returns what, beside size and mtime, tells that a file is still
// the one recorded: its inode and its ctime (which touch cannot set back).
func fileID(fi fs.FileInfo) (ino uint64, ctime int64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino), int64(st.Ctim.Sec)*1e9 + int64(st.Ctim.Nsec)
	}
	return 0, 0
}

// syncAll makes every file written in dir's file system durable at once:
// one syncfs instead of an fsync per small file.
func syncAll(dir *os.File) error {
	rc, err := dir.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Syncfs(int(fd)) }); err != nil {
		return err
	}
	return serr
}
