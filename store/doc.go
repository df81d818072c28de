// Package store finds blobs by hash. Disk serves the regular files below a
// folder, indexed by sha256 and blake3 in a bbolt database:
//
//	d, err := store.OpenDisk("./blobs", store.Options{})
//	if err != nil { ... }
//	defer d.Close()
//	if _, err := d.Scan(ctx); err != nil { ... } // first index pass
//	go d.Watch(ctx, 30*time.Second)            // pick up changes
//	b, err := d.Open(ctx, h)                   // errors.Is(err, fs.ErrNotExist) when unknown
//	defer b.Close()
//
// Disk also builds each file's BLAKE3 tree in the same pass and serves it
// through OpenTree (TreeOpener), for clients that check bytes as they arrive.
//
// Backend is what rtpd needs of whatever holds the blobs (Disk satisfies
// it): the Store the server reads, PathIndex for names, the index passes,
// health, counts for metrics, and Close.
//
// A Blob is only good while its file is unchanged: every ReadAt checks the
// file's size, mtime and inode after reading and fails with ErrChanged
// instead of returning bytes that may not match the hash. A ctime that
// moved alone (chmod) makes the next pass hash the file again while it
// stays served.
package store
