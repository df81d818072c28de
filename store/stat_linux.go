package store

import (
	"io/fs"
	"syscall"
)

// fileStat is what identifies a version of a file: if any of it changes, the
// file is hashed again. See sameBytes for what a READ checks.
type fileStat struct {
	Size  int64
	Mtime int64 // ns
	Ctime int64 // ns; changes on every write and cannot be set by users
	Inode uint64
	Dev   uint64
}

// sameBytes reports whether s and o may differ only in ctime: what chmod,
// chown or a new hard link changes. Writing bytes moves mtime as well, so
// a READ that checks this still sees a write; a pass that finds only the
// ctime moved hashes the file again (bytes written in place with the
// mtime put back look the same) and serves the old entry meanwhile.
func (s fileStat) sameBytes(o fileStat) bool {
	return s.Size == o.Size && s.Mtime == o.Mtime && s.Inode == o.Inode && s.Dev == o.Dev
}

// unlinked reports whether fi is of a file no name points to any more
// (deleted, or replaced by a rename, while open): its bytes are still
// those hashed, but it is no longer served.
func unlinked(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Nlink == 0
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
