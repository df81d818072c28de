package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Backend is what rtpd needs of whatever holds the blobs it serves: a
// folder (Disk) today. The RTP server needs only the Store in it (and a
// TreeOpener, which it finds by type assertion, so a Backend that keeps
// trees should implement it too); the rest is for rtpd's other faces and
// its life cycle: Gemini names and the HTTP page (PathIndex), the index
// passes (Indexer), /healthz (HealthChecker), the gauges of /metrics
// (Counter), and where rtpd keeps its own state.
//
// rtpd opens the Backend, calls Scan once before it serves, then Watch in
// the background, and closes it last.
type Backend interface {
	Store
	PathIndex
	Indexer
	HealthChecker
	Counter
	// Location names what is served, for messages: a folder's absolute
	// path.
	Location() string
	// IndexDir is the local folder holding the index; rtpd keeps its
	// self-signed TLS certificate there. It is never served.
	IndexDir() string
	// IndexFile is the index's bbolt file, whose size /metrics reports,
	// or "" when the backend has none.
	IndexFile() string
	// Close releases the index. Blobs already open stay readable.
	Close() error
}

// Indexer keeps an index of what a backend holds up to date.
type Indexer interface {
	// Scan brings the index up to date in one pass and returns what it
	// did. Passes do not overlap. A pass stopped by ctx returns ctx's
	// error; what it indexed so far is kept.
	Scan(ctx context.Context) (ScanStats, error)
	// Watch runs a pass every interval, and sooner when the backend finds
	// that what it holds changed, until ctx is done.
	Watch(ctx context.Context, interval time.Duration)
}

// HealthChecker reports whether a backend can serve now.
type HealthChecker interface {
	// Health returns nil when the index can be read, else why not.
	Health(ctx context.Context) error
}

// Counter counts what a backend serves, for gauges read at each scrape.
type Counter interface {
	// Count returns the number of files (or objects) served and their
	// total size.
	Count(ctx context.Context) (files int, bytes int64, err error)
}

var _ Backend = (*Disk)(nil)

// Location returns the served folder, absolute, symlinks resolved.
func (d *Disk) Location() string { return d.dir }

// IndexFile returns the path of the bbolt index.
func (d *Disk) IndexFile() string { return d.db.Path() }

var errStopList = errors.New("store: stop listing")

// Health reads the first entry of the index: an index that cannot be read
// (closed, or a read error) is an error that starts "index: ".
func (d *Disk) Health(ctx context.Context) error {
	err := d.List(ctx, func(Entry) error { return errStopList })
	if err != nil && !errors.Is(err, errStopList) {
		return fmt.Errorf("index: %w", err)
	}
	return nil
}

// Count walks the index: the files served and their total size.
func (d *Disk) Count(ctx context.Context) (files int, bytes int64, err error) {
	err = d.List(ctx, func(e Entry) error {
		files++
		bytes += e.Size
		return nil
	})
	return files, bytes, err
}
