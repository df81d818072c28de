package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"go.etcd.io/bbolt"
)

// The index has five buckets:
//
//	files:   path            -> entry (stat, both sums, whether a tree was built)
//	sha256:  sum || path     -> empty
//	blake3:  sum || path     -> empty
//	tree:    blake3 sum      -> the BLAKE3 tree, when it is small (see tree.go)
//	meta:    "rules"         -> the version of what is never served (exclude.go)
//
// Keying the hash buckets by sum and path keeps duplicates apart: a prefix
// scan of a sum yields every path that holds those bytes.
var (
	bucketFiles  = []byte("files")
	bucketSHA256 = []byte("sha256")
	bucketBLAKE3 = []byte("blake3")
	bucketTree   = []byte("tree")
)

// Entry versions: 1 was written before trees, 2 has its tree built. The
// layout is the same.
const (
	entryVersion     = 1
	entryVersionTree = 2
)

// encodeEntry stores the stat and sums; the path is the key.
func encodeEntry(e *Entry) []byte {
	b := make([]byte, 0, 1+5*8+64)
	if e.tree {
		b = append(b, entryVersionTree)
	} else {
		b = append(b, entryVersion)
	}
	b = binary.LittleEndian.AppendUint64(b, uint64(e.stat.Size))
	b = binary.LittleEndian.AppendUint64(b, uint64(e.stat.Mtime))
	b = binary.LittleEndian.AppendUint64(b, uint64(e.stat.Ctime))
	b = binary.LittleEndian.AppendUint64(b, e.stat.Inode)
	b = binary.LittleEndian.AppendUint64(b, e.stat.Dev)
	b = append(b, e.SHA256[:]...)
	return append(b, e.BLAKE3[:]...)
}

var errBadEntry = errors.New("store: bad index entry")

func decodeEntry(path string, b []byte) (Entry, error) {
	if len(b) != 1+5*8+64 || (b[0] != entryVersion && b[0] != entryVersionTree) {
		return Entry{}, fmt.Errorf("%w for %q", errBadEntry, path)
	}
	u := func(i int) uint64 { return binary.LittleEndian.Uint64(b[1+8*i:]) }
	e := Entry{Path: path, tree: b[0] == entryVersionTree}
	e.stat = fileStat{Size: int64(u(0)), Mtime: int64(u(1)), Ctime: int64(u(2)), Inode: u(3), Dev: u(4)}
	e.Size = e.stat.Size
	copy(e.SHA256[:], b[41:73])
	copy(e.BLAKE3[:], b[73:105])
	return e, nil
}

func hashKey(sum [32]byte, path string) []byte {
	return append(sum[:len(sum):len(sum)], path...)
}

// putEntry records e, and its tree if it is to be kept in the index.
func putEntry(tx *bbolt.Tx, e *Entry, tree []byte) error {
	if err := deleteEntry(tx, e.Path); err != nil {
		return err
	}
	if tree != nil {
		if err := tx.Bucket(bucketTree).Put(e.BLAKE3[:], tree); err != nil {
			return err
		}
	}
	if err := tx.Bucket(bucketFiles).Put([]byte(e.Path), encodeEntry(e)); err != nil {
		return err
	}
	if err := tx.Bucket(bucketSHA256).Put(hashKey(e.SHA256, e.Path), nil); err != nil {
		return err
	}
	return tx.Bucket(bucketBLAKE3).Put(hashKey(e.BLAKE3, e.Path), nil)
}

func deleteEntry(tx *bbolt.Tx, path string) error {
	files := tx.Bucket(bucketFiles)
	old := files.Get([]byte(path))
	if old == nil {
		return nil
	}
	e, err := decodeEntry(path, old)
	if err == nil {
		if err := tx.Bucket(bucketSHA256).Delete(hashKey(e.SHA256, path)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketBLAKE3).Delete(hashKey(e.BLAKE3, path)); err != nil {
			return err
		}
		if len(pathsFor(tx, bucketBLAKE3, e.BLAKE3)) == 0 {
			if err := tx.Bucket(bucketTree).Delete(e.BLAKE3[:]); err != nil {
				return err
			}
		}
	}
	return files.Delete([]byte(path))
}

// pathsFor returns the paths indexed under sum in bucket.
func pathsFor(tx *bbolt.Tx, bucket []byte, sum [32]byte) []string {
	var paths []string
	c := tx.Bucket(bucket).Cursor()
	for k, _ := c.Seek(sum[:]); k != nil && bytes.HasPrefix(k, sum[:]); k, _ = c.Next() {
		paths = append(paths, string(k[len(sum):]))
	}
	return paths
}
