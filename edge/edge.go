package edge

import (
	"bytes"
	"container/list"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"go.etcd.io/bbolt"

	"github.com/rtp-project/rtp/outboard"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/urn"
)

// Edge is a pull-through cache of blobs: a store.Backend whose Open of a
// hash it lacks fills it from its upstreams with package swarm, verified,
// and answers READs of the bytes verified so far while the fill goes on.
type Edge struct {
	cfg       Config
	log       *slog.Logger
	upstreams []rtpurl.Dial // cfg.Upstreams without this process
	siblings  *siblings
	db        *bbolt.DB

	ctx    context.Context // fills run under it; Close cancels it
	cancel context.CancelFunc
	fillWG sync.WaitGroup

	mu       sync.Mutex
	blobs    map[[32]byte]*entry   // whole blobs, by blake3 sum
	bySHA    map[[32]byte][32]byte // sha256 -> blake3 of the whole blobs
	lru      *list.List            // of *entry, most recently used first
	total    int64                 // bytes of the whole blobs
	reserved int64                 // bytes of the fills under way
	fills    map[urn.Hash]*fill    // under way, by the urn asked for
	neg      negCache

	met counters
}

var (
	_ store.Backend    = (*Edge)(nil)
	_ store.TreeOpener = (*Edge)(nil)
)

// Open opens the cache folder cfg.Dir, creating it if needed. It does not
// fill anything: the first OPEN of a hash does.
func Open(cfg Config) (*Edge, error) {
	cfg.setDefaults()
	if cfg.MaxBytes <= 0 {
		return nil, errors.New("edge: the cache size must be positive")
	}
	if cfg.Dir == "" {
		return nil, errors.New("edge: no cache folder")
	}
	e := &Edge{
		cfg:   cfg,
		log:   cfg.Log,
		blobs: map[[32]byte]*entry{},
		bySHA: map[[32]byte][32]byte{},
		lru:   list.New(),
		fills: map[urn.Hash]*fill{},
		neg:   negCache{ttl: cfg.NegativeTTL, m: map[urn.Hash]time.Time{}},
	}
	for _, u := range cfg.Upstreams {
		if isSelf(u, cfg.Self) {
			e.log.Warn("upstream is this rtpd itself; leaving it out", "upstream", u.String())
			continue
		}
		e.upstreams = append(e.upstreams, u)
	}
	if len(e.upstreams) == 0 {
		return nil, ErrNoUpstream
	}
	e.siblings = newSiblings(e.upstreams)
	if err := e.openIndex(); err != nil {
		return nil, err
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	return e, nil
}

// Open returns the blob h: from the cache, or from the fill of it, which
// it starts unless one is under way. It returns once the blob's length is
// known (the upstreams were asked); its READs wait for the bytes they
// need. A hash no upstream holds wraps fs.ErrNotExist; upstreams that
// cannot answer now give an error wrapping store.ErrUnavailable.
func (e *Edge) Open(ctx context.Context, h urn.Hash) (store.Blob, error) {
	if b, ok := e.openCached(h); ok {
		e.met.hits.Add(1)
		return b, nil
	}
	f, err := e.fillFor(ctx, h)
	if errors.Is(err, errHeld) {
		// A fill completed in between.
		if b, ok := e.openCached(h); ok {
			e.met.hits.Add(1)
			return b, nil
		}
		f, err = e.fillFor(ctx, h)
	}
	if err != nil {
		return nil, err
	}
	if err := f.waitProbed(ctx); err != nil {
		f.release()
		return nil, err
	}
	return &fillBlob{f: f, ctx: ctx}, nil
}

// OpenTree returns the BLAKE3 tree of h, from the cache or from the fill
// of h (which it starts, as Open does: an edge whose upstream is another
// edge asks for the tree before anything else).
func (e *Edge) OpenTree(ctx context.Context, h urn.Hash) (store.Blob, error) {
	if h.Kind != urn.BLAKE3 {
		return nil, fmt.Errorf("%s: %w", outboard.URI(h), fs.ErrNotExist)
	}
	e.mu.Lock()
	_, held := e.blobs[h.Sum]
	e.mu.Unlock()
	if held {
		return openTreeFile(e.treePath(h.Sum))
	}
	f, err := e.fillFor(ctx, h)
	if errors.Is(err, errHeld) {
		return openTreeFile(e.treePath(h.Sum))
	}
	if err != nil {
		return nil, err
	}
	defer f.release()
	if err := f.waitProbed(ctx); err != nil {
		return nil, err
	}
	if f.treeBytes == nil {
		return nil, fmt.Errorf("%s: no upstream offers it: %w", outboard.URI(h), fs.ErrNotExist)
	}
	return memBlob{bytes.NewReader(f.treeBytes)}, nil
}

// openCached opens h if the cache holds it whole, and marks it used.
func (e *Edge) openCached(h urn.Hash) (store.Blob, bool) {
	e.mu.Lock()
	b3 := h.Sum
	if h.Kind == urn.SHA256 {
		var ok bool
		if b3, ok = e.bySHA[h.Sum]; !ok {
			e.mu.Unlock()
			return nil, false
		}
	}
	en, ok := e.blobs[b3]
	if !ok {
		e.mu.Unlock()
		return nil, false
	}
	en.users++
	e.lru.MoveToFront(en.elem)
	now := e.cfg.now()
	touch := now.Sub(en.used) > time.Minute
	if touch {
		en.used = now
	}
	e.mu.Unlock()
	f, err := os.Open(e.blobPath(b3))
	if err != nil {
		// Removed under the edge: forget it, and fill it again.
		e.log.Warn("cached blob unreadable; filling it again", "blake3", h.Hex(), "err", err)
		e.mu.Lock()
		en.users--
		e.dropLocked(en)
		e.mu.Unlock()
		return nil, false
	}
	if touch {
		os.Chtimes(e.blobPath(b3), time.Time{}, now)
	}
	return &cachedBlob{f: f, size: en.size, release: func() { e.unuse(en) }}, true
}

// unuse ends a use of a whole blob, which may make room to evict.
func (e *Edge) unuse(en *entry) {
	e.mu.Lock()
	en.users--
	e.evictLocked()
	e.mu.Unlock()
}

// fillFor returns the fill of h, started if none is under way, with one
// use taken (release it).
func (e *Edge) fillFor(ctx context.Context, h urn.Hash) (*fill, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ctx.Err() != nil {
		// Close has begun: no fill may start, so that it can wait for all.
		return nil, store.Unavailable(errors.New("edge: closed"))
	}
	if e.holdsLocked(h) {
		return nil, errHeld
	}
	if e.siblings.is(store.Remote(ctx)) {
		// A sibling gets whole blobs only: joining this fill, it could
		// wait for bytes this fill waits to get from it.
		return nil, errSibling
	}
	if f, ok := e.fills[h]; ok {
		f.users++
		e.met.joined.Add(1)
		return f, nil
	}
	if e.neg.has(h, e.cfg.now()) {
		e.met.negHits.Add(1)
		return nil, errNegative
	}
	e.met.misses.Add(1)
	f := newFill(e, h)
	f.users++
	e.fills[h] = f
	e.fillWG.Add(1)
	go f.run()
	return f, nil
}

// holdsLocked reports whether h is a whole blob of the cache.
func (e *Edge) holdsLocked(h urn.Hash) bool {
	b3 := h.Sum
	if h.Kind == urn.SHA256 {
		var ok bool
		if b3, ok = e.bySHA[h.Sum]; !ok {
			return false
		}
	}
	_, ok := e.blobs[b3]
	return ok
}

// List calls fn for every whole blob, most recently used first. Path is
// "blake3/HEX": an edge serves hashes, not names.
func (e *Edge) List(ctx context.Context, fn func(store.Entry) error) error {
	e.mu.Lock()
	var es []store.Entry
	for el := e.lru.Front(); el != nil; el = el.Next() {
		en := el.Value.(*entry)
		es = append(es, store.Entry{Path: "blake3/" + urn.New(urn.BLAKE3, en.b3).Hex(), Size: en.size, SHA256: en.sha, BLAKE3: en.b3})
	}
	e.mu.Unlock()
	for _, x := range es {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(x); err != nil {
			return err
		}
	}
	return nil
}

// Lookup finds a whole blob by its List path, "blake3/HEX".
func (e *Edge) Lookup(ctx context.Context, path string) (store.Entry, error) {
	var found store.Entry
	errFound := errors.New("found")
	err := e.List(ctx, func(x store.Entry) error {
		if x.Path == path {
			found = x
			return errFound
		}
		return nil
	})
	if errors.Is(err, errFound) {
		return found, nil
	}
	if err != nil {
		return store.Entry{}, err
	}
	return store.Entry{}, fmt.Errorf("%s: %w", path, fs.ErrNotExist)
}

// ListUnder lists the whole blobs whose path is below dir.
func (e *Edge) ListUnder(ctx context.Context, dir string, fn func(store.Entry) error) error {
	prefix := strings.TrimSuffix(dir, "/") + "/"
	return e.List(ctx, func(x store.Entry) error {
		if dir != "" && !strings.HasPrefix(x.Path, prefix) {
			return nil
		}
		return fn(x)
	})
}

// Scan reports what the cache holds; the index was loaded by Open.
func (e *Edge) Scan(ctx context.Context) (store.ScanStats, error) {
	files, n, err := e.Count(ctx)
	return store.ScanStats{Files: files, Bytes: n}, err
}

// Watch forgets expired negative entries every interval until ctx is done.
func (e *Edge) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			e.mu.Lock()
			e.neg.expire(e.cfg.now())
			e.mu.Unlock()
		}
	}
}

// Health reads the index.
func (e *Edge) Health(ctx context.Context) error {
	err := e.db.View(func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketBlobs) == nil {
			return errors.New("no blobs bucket")
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	return nil
}

// Count returns the whole blobs held and their bytes.
func (e *Edge) Count(ctx context.Context) (int, int64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.blobs), e.total, nil
}

// Location names the cache and its upstreams.
func (e *Edge) Location() string {
	var ups []string
	for _, u := range e.upstreams {
		ups = append(ups, u.String())
	}
	return fmt.Sprintf("edge cache %s of %s", e.cfg.Dir, strings.Join(ups, ", "))
}

// IndexDir is the cache folder.
func (e *Edge) IndexDir() string { return e.cfg.Dir }

// IndexFile is the cache's bbolt index.
func (e *Edge) IndexFile() string { return e.db.Path() }

// Close stops the fills under way (each saves its resume state) and closes
// the index. Blobs already open stay readable.
func (e *Edge) Close() error {
	e.mu.Lock()
	e.cancel()
	e.mu.Unlock()
	e.fillWG.Wait()
	return e.db.Close()
}

// openTreeFile opens a kept tree.
func openTreeFile(path string) (store.Blob, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tree: %w", fs.ErrNotExist)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &cachedBlob{f: f, size: fi.Size(), release: func() {}}, nil
}

// treeLength is the length a tree is for: its first 8 bytes.
func treeLength(t []byte) int64 {
	if len(t) < 8 {
		return -1
	}
	return int64(binary.LittleEndian.Uint64(t))
}
