package store

import (
	"os"

	"golang.org/x/sys/unix"
)

// beneath opens files below a folder with one openat2 call that refuses
// to leave it (RESOLVE_BENEATH), where os.Root opens each folder on the
// way and sets up the file for the poller: eight system calls instead of
// one, a third of an index pass over small files. Whatever it cannot open
// is left to os.Root, which decides; so it serves nothing os.Root would
// not.
type beneath struct{ fd int }

// openBeneath returns nil when the folder cannot be opened or the kernel
// has no openat2 (before Linux 5.6).
func openBeneath(dir string) *beneath {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	b := &beneath{fd}
	if _, ok := b.open("."); !ok {
		b.close()
		return nil
	}
	return b
}

// open opens rel, slash-separated, for reading. It never blocks on a FIFO
// put in a file's place.
func (b *beneath) open(rel string) (*os.File, bool) {
	fd, err := unix.Openat2(b.fd, rel, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOCTTY | unix.O_NONBLOCK,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil, false
	}
	return os.NewFile(uintptr(fd), rel), true
}

func (b *beneath) close() { unix.Close(b.fd) }
