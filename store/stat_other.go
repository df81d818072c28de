//go:build !linux

package store

import "io/fs"

// fileStat is what identifies a version of a file: if any of it changes, the
// file is hashed again. See sameBytes for what a READ checks.
type fileStat struct {
	Size  int64
	Mtime int64 // ns
	Ctime int64
	Inode uint64
	Dev   uint64
}

// sameBytes reports whether s and o may differ only in ctime; see the
// Linux file.
func (s fileStat) sameBytes(o fileStat) bool {
	return s.Size == o.Size && s.Mtime == o.Mtime && s.Inode == o.Inode && s.Dev == o.Dev
}

func unlinked(fs.FileInfo) bool { return false }

func statOf(fi fs.FileInfo) fileStat {
	return fileStat{Size: fi.Size(), Mtime: fi.ModTime().UnixNano()}
}
