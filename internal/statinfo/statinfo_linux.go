// Package statinfo is lstat relative to an open folder (fstatat without
// following a link), returning an fs.FileInfo as os.Lstat makes it, whose
// Sys is a *syscall.Stat_t: for code that holds folder descriptors and
// looks at many names in them (rtpd's index pass, rtpget's trees).
package statinfo

import (
	"io/fs"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Lstatat stats name in the folder dfd without following a link. Its
// error is fstatat's, unwrapped (unix.ENOENT when nothing is there).
func Lstatat(dfd int, name string) (fs.FileInfo, error) {
	var u unix.Stat_t
	if err := unix.Fstatat(dfd, name, &u, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return nil, err
	}
	return &info{name: name, st: syscall.Stat_t{
		Dev: u.Dev, Ino: u.Ino, Nlink: u.Nlink, Mode: u.Mode, Uid: u.Uid, Gid: u.Gid,
		Size: u.Size, Blksize: u.Blksize, Blocks: u.Blocks,
		Atim: syscall.NsecToTimespec(u.Atim.Nano()),
		Mtim: syscall.NsecToTimespec(u.Mtim.Nano()),
		Ctim: syscall.NsecToTimespec(u.Ctim.Nano()),
	}}, nil
}

type info struct {
	name string
	st   syscall.Stat_t
}

func (s *info) Name() string       { return s.name }
func (s *info) Size() int64        { return s.st.Size }
func (s *info) ModTime() time.Time { return time.Unix(s.st.Mtim.Unix()) }
func (s *info) IsDir() bool        { return s.Mode().IsDir() }
func (s *info) Sys() any           { return &s.st }

func (s *info) Mode() fs.FileMode {
	m := fs.FileMode(s.st.Mode & 0o777)
	switch s.st.Mode & syscall.S_IFMT {
	case syscall.S_IFBLK:
		m |= fs.ModeDevice
	case syscall.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFDIR:
		m |= fs.ModeDir
	case syscall.S_IFIFO:
		m |= fs.ModeNamedPipe
	case syscall.S_IFLNK:
		m |= fs.ModeSymlink
	case syscall.S_IFSOCK:
		m |= fs.ModeSocket
	}
	if s.st.Mode&syscall.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if s.st.Mode&syscall.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if s.st.Mode&syscall.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}
