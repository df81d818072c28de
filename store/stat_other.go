//go:build !linux

package store

import "io/fs"

// fileStat is what identifies a version of a file: if any of it changes, the
// file is hashed again.
type fileStat struct {
	Size  int64
	Mtime int64 // ns
	Ctime int64
	Inode uint64
	Dev   uint64
}

func statOf(fi fs.FileInfo) fileStat {
	return fileStat{Size: fi.Size(), Mtime: fi.ModTime().UnixNano()}
}
