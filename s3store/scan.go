package s3store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"go.etcd.io/bbolt"

	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/urn"
)

// listed is an object as the listing gave it.
type listed struct {
	key  string // below the prefix
	size int64
	etag string
}

// Scan brings the index up to date with the bucket in one pass: it lists
// the keys below the prefix, hashes (one streaming GET each, sha256,
// blake3 and the BLAKE3 tree at once) the objects that are new or whose
// ETag or size changed, and drops the entries of keys gone. Keys that end
// in "/" (folder markers) are not served. A listing that fails leaves the
// index as it was. Passes do not overlap.
func (s *Store) Scan(ctx context.Context) (store.ScanStats, error) {
	s.scanMu.Lock()
	defer s.scanMu.Unlock()
	start := time.Now()
	var stats store.ScanStats

	indexed := make(map[string]object)
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketObjects).ForEach(func(k, v []byte) error {
			if o, err := decodeObject(string(k), v); err == nil {
				indexed[o.key] = o
			}
			return nil
		})
	})
	if err != nil {
		return stats, err
	}

	found := make(map[string]bool)
	var todo []listed
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for info := range s.mc.Client.ListObjects(lctx, s.loc.Bucket, minio.ListObjectsOptions{Prefix: s.loc.Prefix, Recursive: true}) {
		if info.Err != nil {
			err := classify("list "+s.loc.String(), info.Err)
			s.note(err)
			return stats, err
		}
		key := strings.TrimPrefix(info.Key, s.loc.Prefix)
		if key == "" || strings.HasSuffix(key, "/") {
			continue
		}
		l := listed{key: key, size: info.Size, etag: strings.Trim(info.ETag, `"`)}
		if o, ok := indexed[key]; ok && o.etag == l.etag && o.size == l.size && (o.tree || s.opts.NoTrees) {
			found[key] = true
			stats.Files++
			stats.Bytes += o.size
			continue
		}
		todo = append(todo, l)
	}
	if err := ctx.Err(); err != nil {
		return stats, err
	}
	s.note(nil)

	// Drop what is gone (or changed) before hashing, so that its old hash
	// is no longer served at once.
	var gone []string
	for k := range indexed {
		if !found[k] {
			gone = append(gone, k)
		}
	}
	if len(gone) > 0 {
		err := s.db.Update(func(tx *bbolt.Tx) error {
			for _, k := range gone {
				if err := deleteObject(tx, k, ""); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return stats, err
		}
	}
	for _, k := range gone {
		if !containsKey(todo, k) {
			stats.Removed++
		}
	}

	hashed, hashedBytes, skipped, err := s.hashAll(ctx, todo, start)
	stats.Hashed, stats.HashedBytes, stats.Skipped = hashed, hashedBytes, skipped
	stats.Files += hashed
	stats.Bytes += hashedBytes
	if len(gone) > 0 || len(todo) > 0 {
		s.sweepTrees()
	}
	stats.Elapsed = time.Since(start)
	return stats, err
}

func containsKey(ls []listed, k string) bool {
	for _, l := range ls {
		if l.key == k {
			return true
		}
	}
	return false
}

// hashAll hashes the objects of todo on opts.Workers goroutines, largest
// first, and records each as it is done. An object that cannot be read
// now is skipped, with a warning, and tried again by the next pass; the
// first failure that says the bucket is unreachable is returned.
func (s *Store) hashAll(ctx context.Context, todo []listed, start time.Time) (files int, bytes int64, skipped int, err error) {
	if len(todo) == 0 {
		return 0, 0, 0, nil
	}
	sort.Slice(todo, func(i, j int) bool { return todo[i].size > todo[j].size })
	var total int64
	for _, l := range todo {
		total += l.size
	}
	prog := store.StartProgress(s.opts.Progress, start, len(todo), total)

	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	jobs := make(chan listed)
	for range min(s.opts.Workers, len(todo)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for l := range jobs {
				err := s.hashOne(ctx, l, func(n int) { prog.Bytes.Add(int64(n)) })
				prog.Files.Add(1)
				mu.Lock()
				switch {
				case err == nil:
					files++
					bytes += l.size
				case ctx.Err() != nil:
				case errors.Is(err, store.ErrUnavailable) && firstErr == nil:
					firstErr = err
					fallthrough
				default:
					skipped++
				}
				mu.Unlock()
			}
		}()
	}
	for _, l := range todo {
		select {
		case jobs <- l:
			continue
		case <-ctx.Done():
		}
		break
	}
	close(jobs)
	wg.Wait()
	prog.Stop()
	if err := ctx.Err(); err != nil {
		return files, bytes, skipped, err
	}
	return files, bytes, skipped, firstErr
}

// hashOne reads one object whole, with a GET conditional on the ETag the
// listing gave, and records it under the ETag of the response: the bytes
// hashed are those of that ETag, whatever the key holds by now.
func (s *Store) hashOne(ctx context.Context, l listed, progress func(int)) error {
	opts := minio.GetObjectOptions{}
	if l.etag != "" {
		opts.SetMatchETag(l.etag)
	}
	body, info, _, err := s.mc.GetObject(ctx, s.loc.Bucket, s.loc.Prefix+l.key, opts)
	err = classify("get "+s.loc.Prefix+l.key, err)
	s.note(err)
	if err != nil {
		if store.Permanent(err) {
			// Replaced or removed since the listing: the next pass sees
			// what it is now.
			s.Rescan()
		} else if ctx.Err() == nil {
			s.warn(l.key, "not served yet: cannot read the object; trying again on the next pass", err)
		}
		return err
	}
	defer body.Close()
	etag := strings.Trim(info.ETag, `"`)
	if etag == "" {
		etag = l.etag
	}
	size := info.Size
	tree, err := s.newTreeSink(size)
	if err != nil {
		return err
	}
	defer tree.Discard()
	var sums urn.Sums
	if tree != nil {
		sums, err = urn.HashReaderWith(body, progress, tree.Enc)
	} else {
		sums, err = urn.HashReader(body, progress)
	}
	if err == nil && sums.N != size {
		err = fmt.Errorf("got %d bytes of %d", sums.N, size)
	}
	if err != nil {
		err = classify("read "+s.loc.Prefix+l.key, err)
		if ctx.Err() == nil {
			s.warn(l.key, "not served yet: reading the object failed; trying again on the next pass", err)
		}
		return err
	}
	o := object{key: l.key, size: size, etag: etag, sha256: sums.SHA256, blake3: sums.BLAKE3, tree: !s.opts.NoTrees}
	var inline []byte
	if tree != nil {
		if inline, err = tree.Keep(sums.BLAKE3); err != nil {
			return err
		}
	}
	err = s.db.Update(func(tx *bbolt.Tx) error { return putObject(tx, &o, inline) })
	if err != nil {
		return err
	}
	s.unwarn(l.key)
	return nil
}

// Watch runs a pass every interval, and soon after a READ found an object
// replaced or removed, until ctx is done. A pass that cannot reach the
// bucket changes nothing; what was indexed stays served.
func (s *Store) Watch(ctx context.Context, interval time.Duration) {
	store.WatchPasses(ctx, interval, s.rescan, s.log, "objects", s.Scan)
}
