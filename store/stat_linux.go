package store

import (
	"io/fs"
	"syscall"
)

// fileStat is what identifies a version of a file: if any of it changes, the
// file is hashed again.
type fileStat struct {
	Size  int64
	Mtime int64 // ns
	Ctime int64 // ns; changes on every write and cannot be set by users
	Inode uint64
	Dev   uint64
}

func statOf(fi fs.FileInfo) fileStat {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileStat{Size: fi.Size(), Mtime: fi.ModTime().UnixNano()}
	}
	return fileStat{
		Size:  fi.Size(),
		Mtime: st.Mtim.Nano(),
		Ctime: st.Ctim.Nano(),
		Inode: st.Ino,
		Dev:   uint64(st.Dev),
	}
}
