package store

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"go.etcd.io/bbolt"
)

// PathIndex finds entries by their path, for names that point at whatever
// bytes a path holds now. It is optional: find it by type assertion.
type PathIndex interface {
	// Lookup returns the entry at path (slash-separated, relative to the
	// served folder). A path with no file to serve wraps fs.ErrNotExist. A
	// file that changed since it was hashed, or is not hashed yet (new, or
	// being hashed again), wraps ErrChanged, and a rescan is requested: the
	// index has no entry for the bytes the file holds now.
	Lookup(ctx context.Context, path string) (Entry, error)
	// ListUnder calls fn, in path order, for every entry below the folder
	// dir ("" for the whole tree), stopping at fn's first error.
	ListUnder(ctx context.Context, dir string, fn func(Entry) error) error
}

var _ PathIndex = (*Disk)(nil)

// Lookup returns the entry at path; see PathIndex.
func (d *Disk) Lookup(ctx context.Context, path string) (Entry, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, err
	}
	var e Entry
	found := false
	err := d.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketFiles).Get([]byte(path))
		if v == nil {
			return nil
		}
		var err error
		e, err = decodeEntry(path, v)
		found = err == nil
		return nil
	})
	if err != nil {
		return Entry{}, err
	}
	if !found {
		return Entry{}, d.unhashed(path)
	}
	// The same check as Open's: the scan indexed a symlink by its target, a
	// regular file by itself, and Root.Stat gives both that way.
	fi, err := d.root.Stat(filepath.FromSlash(path))
	if err != nil || !statOf(fi).sameBytes(e.stat) {
		d.Rescan()
		return Entry{}, ErrChanged
	}
	if statOf(fi) != e.stat {
		// Only its ctime moved: served while a pass checks its bytes.
		d.Rescan()
	}
	return e, nil
}

// unhashed tells a file the index has yet to hash (a scan drops a changed
// file's entry before hashing it again) from a path with nothing to serve.
func (d *Disk) unhashed(path string) error {
	name := filepath.FromSlash(path)
	abs := filepath.Join(d.dir, name)
	if abs == d.indexDir || strings.HasPrefix(abs, d.indexDir+string(filepath.Separator)) || d.excluded(path) != "" {
		return notFound(path)
	}
	// The pass walks no symlink to a folder: a file reached through one is
	// never indexed under this path (and asking for a pass would start one
	// on every request).
	if parts := strings.Split(path, "/"); !d.realFolders(parts[:len(parts)-1]) {
		return notFound(path)
	}
	fi, err := d.root.Stat(name)
	if err != nil || !fi.Mode().IsRegular() || d.isPrivate(fi) {
		return notFound(path)
	}
	if lfi, err := d.root.Lstat(name); err == nil && lfi.Mode()&fs.ModeSymlink != 0 && d.linkTarget(abs) != "" {
		return notFound(path)
	}
	// A file the scan cannot read, or never serves, is never indexed: not
	// found, not "soon".
	f, err := d.root.Open(name)
	if err != nil {
		return notFound(path)
	}
	key := fileHoldsPrivateKey(f, fi.Size())
	f.Close()
	if key {
		return notFound(path)
	}
	d.Rescan()
	return fmt.Errorf("%s: not hashed yet: %w", path, ErrChanged)
}

// ListUnder calls fn for every entry below dir; see PathIndex.
func (d *Disk) ListUnder(ctx context.Context, dir string, fn func(Entry) error) error {
	prefix := []byte(strings.TrimSuffix(dir, "/") + "/")
	if dir == "" || dir == "/" {
		prefix = nil
	}
	return d.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketFiles).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			e, err := decodeEntry(string(k), v)
			if err != nil {
				continue
			}
			if err := fn(e); err != nil {
				return err
			}
		}
		return nil
	})
}
