package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/urn"
)

// Store serves the objects below a prefix of an S3 bucket by hash.
type Store struct {
	loc      Location
	cfg      Config
	opts     store.Options
	endpoint string // for messages, without credentials
	mc       *minio.Core
	db       *bbolt.DB
	indexDir string
	log      *slog.Logger

	ctx    context.Context // ends with Close: chunks being fetched stop
	cancel context.CancelFunc

	chunks chunkCache
	gets   chan struct{} // a slot per ranged GET in flight (Config.Parallel)
	trees  treeCache

	scanMu sync.Mutex    // one pass at a time
	rescan chan struct{} // a nudge for Watch
	warnMu sync.Mutex
	warned map[string]string

	health health
}

var (
	_ store.Backend     = (*Store)(nil)
	_ store.TreeOpener  = (*Store)(nil)
	_ store.Blob        = (*blob)(nil)
	_ store.RangeReader = (*blob)(nil)
)

// Open opens (creating if needed) the index of the objects at loc, reached
// as cfg says. Of opts it uses Index (zero means DefaultIndex), Workers
// (zero means 4 objects hashed at once), NoTrees, Logger and Progress. It
// does not scan, nor reach the bucket: call Scan before serving.
func Open(loc Location, cfg Config, opts store.Options) (*Store, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.Index == "" {
		var err error
		if opts.Index, err = DefaultIndex(cfg.Endpoint, loc); err != nil {
			return nil, err
		}
	}
	mc, credsFrom, err := newClient(&cfg)
	if err != nil {
		return nil, err
	}
	index, err := filepath.Abs(opts.Index)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(index), 0o755); err != nil {
		return nil, err
	}
	db, err := bbolt.Open(index, 0o644, &bbolt.Options{Timeout: time.Second})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s", store.ErrLocked, index)
	}
	if err != nil {
		return nil, fmt.Errorf("open index %s: %w", index, err)
	}
	endpoint := mc.EndpointURL().Redacted()
	where := []byte(endpoint + " " + loc.String())
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{bucketObjects, bucketSHA256, bucketBLAKE3, bucketTree, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if was := meta.Get(metaLocation); was != nil && !bytes.Equal(was, where) {
			return fmt.Errorf("%w: %s was made for %s, not %s: give another --index", ErrWrongIndex, index, was, where)
		}
		return meta.Put(metaLocation, where)
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("init index %s: %w", index, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Store{
		loc:      loc,
		cfg:      cfg,
		opts:     opts,
		endpoint: endpoint,
		mc:       mc,
		db:       db,
		indexDir: filepath.Dir(index),
		log:      opts.Logger,
		ctx:      ctx,
		cancel:   cancel,
		gets:     make(chan struct{}, cfg.Parallel),
		rescan:   make(chan struct{}, 1),
		warned:   make(map[string]string),
	}
	s.chunks.limit = cfg.CacheBytes
	s.chunks.pool.New = func() any { b := make([]byte, cfg.ChunkSize); return &b }
	s.log.Info("serving a bucket", "bucket", loc.String(), "endpoint", endpoint, "credentials_from", credsFrom, "index", index)
	return s, nil
}

// Location names the bucket and prefix served, and the endpoint:
// "s3://BUCKET/PREFIX at https://ENDPOINT".
func (s *Store) Location() string { return s.loc.String() + " at " + s.endpoint }

// IndexDir returns the folder holding the index.
func (s *Store) IndexDir() string { return s.indexDir }

// IndexFile returns the path of the bbolt index.
func (s *Store) IndexFile() string { return s.db.Path() }

// Close stops the fetches under way and closes the index.
func (s *Store) Close() error {
	s.cancel()
	return s.db.Close()
}

// Open returns the blob of hash h. It asks nothing of the bucket: its
// READs are conditional on the ETag that was hashed, so a replaced or
// removed object fails them (ErrChanged, not found).
func (s *Store) Open(ctx context.Context, h urn.Hash) (store.Blob, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	bucket := bucketSHA256
	if h.Kind == urn.BLAKE3 {
		bucket = bucketBLAKE3
	}
	var found []object
	err := s.db.View(func(tx *bbolt.Tx) error {
		found = objectsFor(tx, bucket, h.Sum)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("%s: %w", h, os.ErrNotExist)
	}
	return s.newBlob(found[0]), nil
}

// List calls fn for every indexed object, in key order.
func (s *Store) List(ctx context.Context, fn func(store.Entry) error) error {
	return s.ListUnder(ctx, "", fn)
}

// Lookup returns the entry of the object at path (its key below the
// prefix); see store.PathIndex. An object not indexed is not found.
func (s *Store) Lookup(ctx context.Context, path string) (store.Entry, error) {
	if err := ctx.Err(); err != nil {
		return store.Entry{}, err
	}
	var o object
	var err error
	found := false
	verr := s.db.View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bucketObjects).Get([]byte(path)); v != nil {
			o, err = decodeObject(path, v)
			found = err == nil
		}
		return nil
	})
	if verr != nil {
		return store.Entry{}, verr
	}
	if !found {
		return store.Entry{}, fmt.Errorf("%s: %w", path, os.ErrNotExist)
	}
	return o.entry(), nil
}

// ListUnder calls fn for every entry below dir; see store.PathIndex.
func (s *Store) ListUnder(ctx context.Context, dir string, fn func(store.Entry) error) error {
	prefix := []byte(strings.TrimSuffix(dir, "/") + "/")
	if dir == "" || dir == "/" {
		prefix = nil
	}
	return s.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketObjects).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			o, err := decodeObject(string(k), v)
			if err != nil {
				continue
			}
			if err := fn(o.entry()); err != nil {
				return err
			}
		}
		return nil
	})
}

// Count walks the index: the objects served and their total size.
func (s *Store) Count(ctx context.Context) (files int, bytes int64, err error) {
	err = s.List(ctx, func(e store.Entry) error {
		files++
		bytes += e.Size
		return nil
	})
	return files, bytes, err
}

// dropStale removes the entry of key if it still is of etag (the object
// was found replaced or removed), so no new OPEN finds its old hash, and
// asks for a pass, which indexes what the key holds now.
func (s *Store) dropStale(key, etag string) {
	err := s.db.Update(func(tx *bbolt.Tx) error { return deleteObject(tx, key, etag) })
	if err != nil {
		s.log.Warn("cannot drop a replaced object from the index", "key", s.loc.Prefix+key, "err", err)
	}
	s.Rescan()
}

// Rescan asks Watch for a pass as soon as possible.
func (s *Store) Rescan() {
	select {
	case s.rescan <- struct{}{}:
	default:
	}
}

// warn logs msg for key unless the same warning was logged for it before.
func (s *Store) warn(key, msg string, err error) {
	s.warnMu.Lock()
	defer s.warnMu.Unlock()
	w := msg + fmt.Sprint(err)
	if s.warned[key] == w {
		return
	}
	s.warned[key] = w
	s.log.Warn(msg, "key", s.loc.Prefix+key, "err", err)
}

func (s *Store) unwarn(key string) {
	s.warnMu.Lock()
	defer s.warnMu.Unlock()
	delete(s.warned, key)
}
