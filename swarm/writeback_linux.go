package swarm

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing [off, off+n) of out to
// disk without waiting for it. The in-order hash calls it behind itself, so
// by the time the download ends most of the file is on disk and the fsync
// before the rename has little left to do, instead of flushing the whole
// file at the end (0.3 s for 512 MB here). Outputs that aren't files are
// left alone; failures only lose the head start.
func startWriteback(out Output, off, n int64) {
	sc, ok := out.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE)
	})
}
