package edge

import (
	"container/list"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/rtp-project/rtp/store"
)

// The cache folder:
//
//	index.db        bbolt: blake3 sum -> size and sha256; sha256 -> blake3
//	blobs/<hex>     a whole blob, verified, named by its blake3 sum
//	trees/<hex>     its BLAKE3 tree (also that of a fill under way)
//	fill/<key>.part the fill of the urn <key> (swarm's output) and
//	fill/<key>.part.state  its resume state
//
// A blob is renamed into blobs/ only once every byte of it has been
// verified (against the tree, or whole), its tree is in trees/, and its
// index entry is written after the rename: at start, a file in blobs/
// without an entry is a crash's leftover and removed, an entry without its
// file is dropped. Entries are trusted, not re-hashed: the files are the
// edge's own, written once and never changed.
//
// Recency for eviction is the blob file's mtime, set at most once a minute
// when it is opened: a restarted edge evicts in the same order without a
// write to the index per OPEN.

var (
	bucketBlobs  = []byte("blobs")  // blake3 sum -> size (8) + sha256 (32)
	bucketSHA256 = []byte("sha256") // sha256 sum -> blake3 sum
)

// entry is a whole blob in the cache.
type entry struct {
	b3, sha [32]byte
	size    int64
	users   int           // blobs open on it: never evicted while > 0
	used    time.Time     // last OPEN, as recorded in the file's mtime
	elem    *list.Element // in Edge.lru
}

func (e *Edge) blobPath(b3 [32]byte) string {
	return filepath.Join(e.cfg.Dir, "blobs", hex.EncodeToString(b3[:]))
}

func (e *Edge) treePath(b3 [32]byte) string {
	return filepath.Join(e.cfg.Dir, "trees", hex.EncodeToString(b3[:]))
}

func encodeEntry(en *entry) []byte {
	v := binary.LittleEndian.AppendUint64(nil, uint64(en.size))
	return append(v, en.sha[:]...)
}

// openIndex opens the index and loads every entry whose blob is on disk,
// oldest use last; it removes files and entries that have lost their
// other half.
func (e *Edge) openIndex() error {
	for _, d := range []string{"blobs", "trees", "fill"} {
		if err := os.MkdirAll(filepath.Join(e.cfg.Dir, d), 0o755); err != nil {
			return err
		}
	}
	db, err := bbolt.Open(filepath.Join(e.cfg.Dir, "index.db"), 0o644, &bbolt.Options{Timeout: time.Second})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return fmt.Errorf("edge cache %s: %w", e.cfg.Dir, store.ErrLocked)
	}
	if err != nil {
		return err
	}
	e.db = db
	var entries []*entry
	var gone [][32]byte
	err = db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketBlobs)
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists(bucketSHA256); err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			if len(k) != 32 || len(v) != 40 {
				return nil
			}
			en := &entry{size: int64(binary.LittleEndian.Uint64(v))}
			copy(en.b3[:], k)
			copy(en.sha[:], v[8:])
			fi, err := os.Stat(e.blobPath(en.b3))
			if err != nil || fi.Size() != en.size {
				gone = append(gone, en.b3)
				return nil
			}
			en.used = fi.ModTime()
			entries = append(entries, en)
			return nil
		})
	})
	if err != nil {
		db.Close()
		return err
	}
	for _, b3 := range gone {
		e.log.Warn("cached blob missing or cut short; forgetting it", "blake3", hex.EncodeToString(b3[:]))
		e.forget(b3)
	}
	// Most recent first.
	sortByUse(entries)
	for _, en := range entries {
		en.elem = e.lru.PushBack(en)
		e.blobs[en.b3] = en
		e.bySHA[en.sha] = en.b3
		e.total += en.size
	}
	e.sweep()
	return nil
}

// sweep removes blob files without an entry and trees of neither a blob nor
// a fill; they are what a crash leaves between a rename and its entry.
func (e *Edge) sweep() {
	held := func(name string) bool {
		b, err := hex.DecodeString(name)
		if err != nil || len(b) != 32 {
			return false
		}
		_, ok := e.blobs[[32]byte(b)]
		return ok
	}
	des, _ := os.ReadDir(filepath.Join(e.cfg.Dir, "blobs"))
	for _, de := range des {
		if !held(de.Name()) {
			os.Remove(filepath.Join(e.cfg.Dir, "blobs", de.Name()))
		}
	}
	des, _ = os.ReadDir(filepath.Join(e.cfg.Dir, "trees"))
	for _, de := range des {
		name := de.Name()
		if held(name) {
			continue
		}
		if _, err := os.Stat(filepath.Join(e.cfg.Dir, "fill", "blake3-"+name+".part")); err == nil {
			continue
		}
		os.Remove(filepath.Join(e.cfg.Dir, "trees", name))
	}
	// A fill interrupted and not asked for again within staleFill is
	// given up.
	des, _ = os.ReadDir(filepath.Join(e.cfg.Dir, "fill"))
	for _, de := range des {
		if fi, err := de.Info(); err == nil && e.cfg.now().Sub(fi.ModTime()) > staleFill {
			os.Remove(filepath.Join(e.cfg.Dir, "fill", de.Name()))
		}
	}
}

// staleFill is how long the .part of an interrupted fill is kept for a
// resume.
const staleFill = 24 * time.Hour

// sortByUse puts the most recently used first.
func sortByUse(es []*entry) {
	slices.SortStableFunc(es, func(a, b *entry) int { return b.used.Compare(a.used) })
}

// record writes the entry of a blob just renamed into blobs/.
func (e *Edge) record(en *entry) error {
	return e.db.Update(func(tx *bbolt.Tx) error {
		if err := tx.Bucket(bucketBlobs).Put(en.b3[:], encodeEntry(en)); err != nil {
			return err
		}
		return tx.Bucket(bucketSHA256).Put(en.sha[:], en.b3[:])
	})
}

// forget drops the entry of b3 and its files: the entry first, so a crash
// in between leaves files that sweep removes, never an entry without them.
func (e *Edge) forget(b3 [32]byte) {
	err := e.db.Update(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketBlobs).Get(b3[:])
		if len(v) == 40 {
			sha := v[8:]
			if cur := tx.Bucket(bucketSHA256).Get(sha); string(cur) == string(b3[:]) {
				if err := tx.Bucket(bucketSHA256).Delete(sha); err != nil {
					return err
				}
			}
		}
		return tx.Bucket(bucketBlobs).Delete(b3[:])
	})
	if err != nil {
		e.log.Warn("cannot drop a cache entry", "blake3", hex.EncodeToString(b3[:]), "err", err)
		return
	}
	os.Remove(e.blobPath(b3))
	os.Remove(e.treePath(b3))
}
