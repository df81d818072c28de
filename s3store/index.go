package s3store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/rtp-project/rtp/store"
)

// The index has five buckets:
//
//	objects: key below the prefix -> object (size, ETag, both sums, whether its tree was built)
//	sha256:  sum || key          -> empty
//	blake3:  sum || key          -> empty
//	tree:    blake3 sum          -> the BLAKE3 tree, when it is small (see tree.go)
//	meta:    "location"          -> endpoint, bucket and prefix the index is of
//
// As in the disk store's index, keying the hash buckets by sum and key
// keeps duplicates apart.
var (
	bucketObjects = []byte("objects")
	bucketSHA256  = []byte("sha256")
	bucketBLAKE3  = []byte("blake3")
	bucketTree    = []byte("tree")
	bucketMeta    = []byte("meta")
	metaLocation  = []byte("location")
)

const objectVersion = 1

// object is one indexed object.
type object struct {
	key    string // below the prefix: the entry's path
	size   int64
	etag   string // as the server gave it, quotes removed
	sha256 [32]byte
	blake3 [32]byte
	tree   bool // its tree was built
}

func (o *object) entry() store.Entry {
	return store.Entry{Path: o.key, Size: o.size, SHA256: o.sha256, BLAKE3: o.blake3}
}

func encodeObject(o *object) []byte {
	b := make([]byte, 0, 2+8+64+len(o.etag))
	b = append(b, objectVersion)
	flags := byte(0)
	if o.tree {
		flags |= 1
	}
	b = append(b, flags)
	b = binary.LittleEndian.AppendUint64(b, uint64(o.size))
	b = append(b, o.sha256[:]...)
	b = append(b, o.blake3[:]...)
	return append(b, o.etag...)
}

var errBadObject = errors.New("s3store: bad index entry")

func decodeObject(key string, b []byte) (object, error) {
	if len(b) < 2+8+64 || b[0] != objectVersion {
		return object{}, fmt.Errorf("%w for %q", errBadObject, key)
	}
	o := object{key: key, tree: b[1]&1 != 0, size: int64(binary.LittleEndian.Uint64(b[2:]))}
	copy(o.sha256[:], b[10:42])
	copy(o.blake3[:], b[42:74])
	o.etag = string(b[74:])
	return o, nil
}

func hashKey(sum [32]byte, key string) []byte {
	return append(sum[:len(sum):len(sum)], key...)
}

// putObject records o, and its tree if it is kept in the index.
func putObject(tx *bbolt.Tx, o *object, tree []byte) error {
	if err := deleteObject(tx, o.key, ""); err != nil {
		return err
	}
	if tree != nil {
		if err := tx.Bucket(bucketTree).Put(o.blake3[:], tree); err != nil {
			return err
		}
	}
	if err := tx.Bucket(bucketObjects).Put([]byte(o.key), encodeObject(o)); err != nil {
		return err
	}
	if err := tx.Bucket(bucketSHA256).Put(hashKey(o.sha256, o.key), nil); err != nil {
		return err
	}
	return tx.Bucket(bucketBLAKE3).Put(hashKey(o.blake3, o.key), nil)
}

// deleteObject drops the entry of key; when etag is not "", only if it is
// of that ETag (a newer one stays).
func deleteObject(tx *bbolt.Tx, key, etag string) error {
	objects := tx.Bucket(bucketObjects)
	old := objects.Get([]byte(key))
	if old == nil {
		return nil
	}
	o, err := decodeObject(key, old)
	if err == nil {
		if etag != "" && o.etag != etag {
			return nil
		}
		if err := tx.Bucket(bucketSHA256).Delete(hashKey(o.sha256, key)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketBLAKE3).Delete(hashKey(o.blake3, key)); err != nil {
			return err
		}
		if len(keysFor(tx, bucketBLAKE3, o.blake3)) == 0 {
			if err := tx.Bucket(bucketTree).Delete(o.blake3[:]); err != nil {
				return err
			}
		}
	}
	return objects.Delete([]byte(key))
}

// keysFor returns the keys indexed under sum in bucket.
func keysFor(tx *bbolt.Tx, bucket []byte, sum [32]byte) []string {
	var keys []string
	c := tx.Bucket(bucket).Cursor()
	for k, _ := c.Seek(sum[:]); k != nil && bytes.HasPrefix(k, sum[:]); k, _ = c.Next() {
		keys = append(keys, string(k[len(sum):]))
	}
	return keys
}

// objectsFor returns the objects holding the bytes of sum in bucket.
func objectsFor(tx *bbolt.Tx, bucket []byte, sum [32]byte) []object {
	var os []object
	for _, k := range keysFor(tx, bucket, sum) {
		if o, err := decodeObject(k, tx.Bucket(bucketObjects).Get([]byte(k))); err == nil {
			os = append(os, o)
		}
	}
	return os
}
