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

// open opens rel, slash-separated, for reading; b may be nil. It never blocks on a FIFO
// put in a file's place.
func (b *beneath) open(rel string) (*os.File, bool) {
	if b == nil {
		return nil, false
	}
	fd, err := unix.Openat2(b.fd, rel, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOCTTY | unix.O_NONBLOCK,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil, false
	}
	return os.NewFile(uintptr(fd), rel), true
}

// close closes the folder; b may be nil.
func (b *beneath) close() {
	if b != nil {
		unix.Close(b.fd)
	}
}

// readSmall reads rel, a file the walk found to have n bytes (n <
// smallFile), with one read into *buf, grown as needed, and without an
// os.File: open, read, fstat, close. It returns the bytes read (one more
// than n if the file grew) and the file's stat after the read. ok is false
// when the file cannot be opened here (or b is nil); then os.Root decides.
func (b *beneath) readSmall(rel string, n int64, buf *[]byte) (data []byte, st fileStat, ok bool, err error) {
	if b == nil {
		return nil, st, false, nil
	}
	fd, err := unix.Openat2(b.fd, rel, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOCTTY | unix.O_NONBLOCK,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil, st, false, nil
	}
	defer unix.Close(fd)
	if int64(cap(*buf)) < n+1 {
		*buf = make([]byte, max(n+1, 64<<10))
	}
	p := (*buf)[:n+1]
	got := 0
	for int64(got) < n {
		k, err := unix.Read(fd, p[got:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, st, true, err
		}
		if k == 0 {
			break
		}
		got += k
	}
	var s unix.Stat_t
	if err := unix.Fstat(fd, &s); err != nil {
		return nil, st, true, err
	}
	if s.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, st, true, errNotRegular
	}
	st = fileStat{Size: s.Size, Mtime: s.Mtim.Nano(), Ctime: s.Ctim.Nano(), Inode: s.Ino, Dev: s.Dev}
	return p[:got], st, true, nil
}
