package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/rtp-project/rtp/internal/statinfo"
)

// syncEach: false where syncAll makes a whole batch durable at once.
const syncEach = false

// noFollow opens a file only if it is not a symbolic link.
const noFollow = syscall.O_NOFOLLOW

// fileID returns what, beside size and mtime, tells that a file is still
// the one recorded: its inode and its ctime (which touch cannot set back).
func fileID(fi fs.FileInfo) (ino uint64, ctime int64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino), st.Ctim.Nano()
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

// On Linux the per-file work does not go through the os.Root, which
// resolves every path again component by component (an openat and a close
// per folder on the way, for each look, rename and stat): each folder of
// the target is opened once, relative to its parent's handle, with
// O_NOFOLLOW|O_DIRECTORY (a link or a file there is refused), and kept;
// a file is then looked at, created, renamed and stat'ed with *at calls
// relative to its folder's handle and the parts folder's, which follow no
// link in the last component either (AT_SYMLINK_NOFOLLOW, O_NOFOLLOW,
// renameat replaces a link rather than following it).

// maxDirHandles bounds the folders kept open: past it, every handle but
// the pinned ones is closed, and folders are opened again as needed.
const maxDirHandles = 1024

// dirHandles are the open folders of the target, guarded by treeDir.mu.
type dirHandles struct {
	root, state, parts int            // pinned: the target, .rtpget, its parts
	open               map[string]int // other folders, by path
}

func (t *treeDir) openHandles() error {
	t.fds = dirHandles{root: -1, state: -1, parts: -1, open: map[string]int{}}
	f, err := t.root.Open(".")
	if err != nil {
		return err
	}
	t.fds.root, err = unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	f.Close()
	if err != nil {
		t.fds.root = -1
		return os.NewSyscallError("fcntl", err)
	}
	if t.fds.state, err = t.openDir(t.fds.root, stateDir, stateDir); err != nil {
		return err
	}
	t.fds.parts, err = t.openDir(t.fds.state, path.Base(partsDir), partsDir)
	return err
}

func (t *treeDir) closeHandles() {
	t.dropHandles()
	for _, fd := range []int{t.fds.root, t.fds.state, t.fds.parts} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

// dropHandles closes the folders' handles but the pinned ones.
func (t *treeDir) dropHandles() {
	for _, fd := range t.fds.open {
		unix.Close(fd)
	}
	t.fds.open = map[string]int{}
}

// openDir opens the folder name in the folder parent (p is its path in
// the target, for messages): only a real folder, never a link.
func (t *treeDir) openDir(parent int, name, p string) (int, error) {
	fd, err := unix.Openat(parent, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err == nil {
		return fd, nil
	}
	if fi, serr := statinfo.Lstatat(parent, name); serr == nil {
		if fi.Mode()&fs.ModeSymlink != 0 {
			return -1, fmt.Errorf("%s is a symbolic link; rtpget follows no link inside the target", show(p))
		}
		if !fi.IsDir() {
			return -1, fmt.Errorf("%s is a %s, not a folder", show(p), kindOf(fi))
		}
	}
	return -1, &fs.PathError{Op: "open", Path: p, Err: err}
}

// dirFD returns the handle of the folder dir ("" for the target), making
// it and the folders above it if need be. t.mu is held.
func (t *treeDir) dirFD(dir string) (int, error) {
	if dir == "" {
		return t.fds.root, nil
	}
	if fd, ok := t.fds.open[dir]; ok {
		return fd, nil
	}
	known, seen := t.dirs[dir]
	if known != nil {
		return -1, known
	}
	parent := path.Dir(dir)
	if parent == "." {
		parent = ""
	}
	pfd, err := t.dirFD(parent)
	if err != nil {
		t.dirs[dir] = err
		return -1, err
	}
	base := path.Base(dir)
	if !seen {
		if err := unix.Mkdirat(pfd, base, 0o755); err != nil && err != unix.EEXIST {
			err = &fs.PathError{Op: "mkdir", Path: dir, Err: err}
			t.dirs[dir] = err
			return -1, err
		}
	}
	fd, err := t.openDir(pfd, base, dir)
	t.dirs[dir] = err
	if err != nil {
		return -1, err
	}
	t.fds.open[dir] = fd
	return fd, nil
}

// at returns the handle of p's folder and p's last component. t.mu is
// held.
func (t *treeDir) at(p string) (int, string, error) {
	if len(t.fds.open) >= maxDirHandles {
		t.dropHandles()
	}
	dir := path.Dir(p)
	if dir == "." {
		dir = ""
	}
	fd, err := t.dirFD(dir)
	return fd, path.Base(p), err
}

// lookFinal returns what is at the final name p: nil when nothing is, an
// error when it is something rtpget must not replace (a link, a folder, a
// device) or a folder on the way is not a real one. The folders on the
// way are made.
func (t *treeDir) lookFinal(p string) (fs.FileInfo, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	dfd, base, err := t.at(p)
	if err != nil {
		return nil, err
	}
	fi, err := statAt(dfd, base, p)
	if err != nil || fi == nil {
		return nil, err
	}
	if err := notReplaceable(p, fi); err != nil {
		return nil, err
	}
	return fi, nil
}

// statAt is fstatat without following a link: nil, nil when nothing is
// there.
func statAt(dfd int, name, p string) (fs.FileInfo, error) {
	fi, err := statinfo.Lstatat(dfd, name)
	if err == unix.ENOENT {
		return nil, nil
	}
	if err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: p, Err: err}
	}
	return fi, nil
}

// place renames the verified part (its mode already set) into p and
// returns what p then is. When nothing is at p, one renameat2 with
// RENAME_NOREPLACE does it; else what is there is looked at first (only a
// regular file is replaced). A folder of p's path removed meanwhile (its
// handle then names a deleted folder) is opened again once, which refuses
// a link put in its place.
func (t *treeDir) place(part, p string) (fs.FileInfo, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fi, err := t.placeAt(part, p)
	if errors.Is(err, unix.ENOENT) {
		var st unix.Stat_t
		if unix.Fstatat(t.fds.parts, part, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
			t.dropHandles()
			for d, e := range t.dirs {
				if e == nil && d != "" {
					delete(t.dirs, d)
				}
			}
			fi, err = t.placeAt(part, p)
		}
	}
	return fi, err
}

func (t *treeDir) placeAt(part, p string) (fs.FileInfo, error) {
	dfd, base, err := t.at(p)
	if err != nil {
		return nil, err
	}
	err = unix.Renameat2(t.fds.parts, part, dfd, base, unix.RENAME_NOREPLACE)
	if err == unix.EEXIST || err == unix.EINVAL || err == unix.ENOSYS {
		// Something is there, or the file system cannot tell: look.
		fi, err := statAt(dfd, base, p)
		if err != nil {
			return nil, err
		}
		if fi != nil {
			if err := notReplaceable(p, fi); err != nil {
				return nil, err
			}
			if err := t.appeared(p); err != nil {
				return nil, err
			}
		}
		err = unix.Renameat(t.fds.parts, part, dfd, base)
		if err != nil {
			return nil, &fs.PathError{Op: "rename", Path: p, Err: err}
		}
	} else if err != nil {
		return nil, &fs.PathError{Op: "rename", Path: p, Err: err}
	}
	fi, err := statAt(dfd, base, p)
	if err == nil && fi == nil {
		err = &fs.PathError{Op: "lstat", Path: p, Err: unix.ENOENT}
	}
	return fi, err
}

// createPartFD creates the part name afresh (an old one is removed first,
// so its mode is the one given), never through a link.
func (t *treeDir) createPartFD(name string, exec bool) (int, error) {
	mode := uint32(partMode(exec))
	flags := unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Openat(t.fds.parts, name, flags, mode)
	if err == unix.EEXIST {
		if err = unix.Unlinkat(t.fds.parts, name, 0); err == nil {
			fd, err = unix.Openat(t.fds.parts, name, flags, mode)
		}
	}
	if err != nil {
		return -1, &fs.PathError{Op: "open", Path: partsDir + "/" + name, Err: err}
	}
	return fd, nil
}

// createPart is createPartFD as an *os.File (not in the netpoller: a
// regular file's fd is blocking).
func (t *treeDir) createPart(name string, exec bool) (*os.File, error) {
	fd, err := t.createPartFD(name, exec)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), partsDir+"/"+name), nil
}

// writeBytes writes b as the part name: an openat, the writes, a close
// (and an fchmod when the umask took bits the mode needs).
func (t *treeDir) writeBytes(name string, exec bool, b []byte) error {
	fd, err := t.createPartFD(name, exec)
	if err != nil {
		return err
	}
	for len(b) > 0 {
		n, werr := unix.Write(fd, b)
		if werr == unix.EINTR {
			continue
		}
		if werr == nil && n == 0 {
			werr = io.ErrShortWrite
		}
		if werr != nil {
			err = werr // n is -1 then: the disk full, a quota, an I/O error
			break
		}
		b = b[n:]
	}
	if err == nil && modeNeedsChmod(exec) {
		err = unix.Fchmod(fd, uint32(partMode(exec)))
	}
	if cerr := unix.Close(fd); err == nil {
		err = cerr
	}
	if err != nil {
		unix.Unlinkat(t.fds.parts, name, 0)
		return &fs.PathError{Op: "write", Path: partsDir + "/" + name, Err: err}
	}
	return nil
}

// umask is the process's, from /proc (-1 if unknown): reading it with
// umask(2) would change it for a moment under other threads.
var umask = sync.OnceValue(func() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("Umask:")); ok {
			u, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 8, 32)
			if err != nil {
				return -1
			}
			return int(u)
		}
	}
	return -1
})

// modeNeedsChmod reports whether a part created with its mode needs an
// fchmod to have it: when the umask takes some of its bits.
func modeNeedsChmod(exec bool) bool {
	u := umask()
	return u < 0 || int(partMode(exec).Perm())&u != 0
}
