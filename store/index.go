package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"go.etcd.io/bbolt"
)

// The index has three buckets:
//
//	files:  path            -> entry (stat and both sums)
//	sha256: sum || path     -> empty
//	blake3: sum || path     -> empty
//
// Keying the hash buckets by sum and path keeps duplicates apart: a prefix
// scan of a sum yields every path that holds those bytes.
var (
	bucketFiles  = []byte("files")
	bucketSHA256 = []byte("sha256")
	bucketBLAKE3 = []byte("blake3")
)

const entryVersion = 1

// encodeEntry stores the stat and sums; the path is the key.
func encodeEntry(e *Entry) []byte {
	b := make([]byte, 0, 1+5*8+64)
	b = append(b, entryVersion)
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
	if len(b) != 1+5*8+64 || b[0] != entryVersion {
		return Entry{}, fmt.Errorf("%w for %q", errBadEntry, path)
	}
	u := func(i int) uint64 { return binary.LittleEndian.Uint64(b[1+8*i:]) }
	e := Entry{Path: path}
	e.stat = fileStat{Size: int64(u(0)), Mtime: int64(u(1)), Ctime: int64(u(2)), Inode: u(3), Dev: u(4)}
	e.Size = e.stat.Size
	copy(e.SHA256[:], b[41:73])
	copy(e.BLAKE3[:], b[73:105])
	return e, nil
}

func hashKey(sum [32]byte, path string) []byte {
	return append(sum[:len(sum):len(sum)], path...)
}

func putEntry(tx *bbolt.Tx, e *Entry) error {
	if err := deleteEntry(tx, e.Path); err != nil {
		return err
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
