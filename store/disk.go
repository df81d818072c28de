package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/rtp-project/rtp/urn"
)

// Options configure a Disk.
type Options struct {
	// Index is the bbolt file. Zero means DIR/.rtpd/index.db.
	Index string
	// Workers is how many files are hashed at once. Zero means GOMAXPROCS
	// for files of 1 MiB and up, and max(GOMAXPROCS, 32) for smaller ones.
	Workers int
	// Logger receives warnings and the summary of each pass. Zero means
	// slog.Default().
	Logger *slog.Logger
	// NoTrees turns off building and serving BLAKE3 trees (for comparison
	// runs). Zero means every file's tree is built in the index pass.
	NoTrees bool
	// Progress, when set, is called about five times a second during a pass
	// that hashes something, and once at its end.
	Progress func(ScanProgress)
	// Hidden serves dot-files and dot-folders, partial downloads (*.part,
	// *.part.state, *.crdownload) and editors' backups (*~, #*#). Zero means
	// they are not served. rtpd's own state and private keys are never
	// served, whatever this says (see exclude.go).
	Hidden bool
	// Private names files never served, such as the TLS certificate and
	// key, matched by identity (device and inode): a hard link or a symlink
	// to one is not served either. A name that does not exist is ignored.
	Private []string
}

// Disk serves the regular files below a folder by hash.
type Disk struct {
	dir      string // absolute, symlinks resolved
	root     *os.Root
	bmu      sync.RWMutex // guards bn against Close
	bn       *beneath     // opens for OPENs, nil where it cannot (see beneath)
	db       *bbolt.DB
	indexDir string // absolute; never served
	private  []os.FileInfo
	opts     Options
	log      *slog.Logger

	handles handles // open files, shared by the blobs of each

	scanMu sync.Mutex    // one pass at a time
	rescan chan struct{} // a nudge for Watch
	warnMu sync.Mutex
	warned map[string]string // path -> last warning, so rescans don't repeat it

	// hashHook, when set (by tests), is called with the path of the file
	// being hashed after each chunk of it is read.
	hashHook func(rel string)
}

// DefaultIndexDir is the index folder's name inside the served folder.
const DefaultIndexDir = ".rtpd"

// OpenDisk opens (creating if needed) the index of dir. It does not scan:
// call Scan before serving.
func OpenDisk(dir string, opts Options) (*Disk, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return nil, err
	}
	if fi, err := os.Stat(abs); err != nil {
		return nil, err
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a folder", dir)
	}
	if opts.Index == "" {
		opts.Index = filepath.Join(abs, DefaultIndexDir, "index.db")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	index, err := filepath.Abs(opts.Index)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(index), 0o755); err != nil {
		return nil, err
	}
	indexDir, err := filepath.EvalSymlinks(filepath.Dir(index))
	if err != nil {
		return nil, err
	}
	if indexDir == abs {
		return nil, fmt.Errorf("index %s: keep the index in a folder of its own, not at the top of the served folder", index)
	}
	// Before the index file exists, so that no rtpd scanning this folder
	// meanwhile serves what it will hold (the index, trees, the TLS key).
	if err := writeMarker(indexDir); err != nil {
		opts.Logger.Warn("cannot mark the index folder; other rtpds serving it may serve the index", "dir", indexDir, "err", err)
	}
	private := statAll(opts.Private)
	db, err := bbolt.Open(index, 0o644, &bbolt.Options{Timeout: time.Second})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s", ErrLocked, index)
	}
	if err != nil {
		return nil, fmt.Errorf("open index %s: %w", index, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{bucketFiles, bucketSHA256, bucketBLAKE3, bucketTree, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("init index %s: %w", index, err)
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Disk{
		dir:      abs,
		root:     root,
		bn:       openBeneath(abs),
		db:       db,
		indexDir: indexDir,
		private:  private,
		opts:     opts,
		log:      opts.Logger,
		rescan:   make(chan struct{}, 1),
		warned:   make(map[string]string),
	}, nil
}

// statAll stats the files named, leaving out those that do not exist.
func statAll(names []string) []os.FileInfo {
	var fis []os.FileInfo
	for _, p := range names {
		if fi, err := os.Stat(p); err == nil {
			fis = append(fis, fi)
		}
	}
	return fis
}

// Dir returns the served folder, absolute.
func (d *Disk) Dir() string { return d.dir }

// IndexDir returns the folder holding the index, absolute.
func (d *Disk) IndexDir() string { return d.indexDir }

// Close closes the index. Blobs already open stay readable.
func (d *Disk) Close() error {
	d.bmu.Lock()
	d.bn.close()
	d.bn = nil // no open may use the number after it is reused
	d.bmu.Unlock()
	d.root.Close()
	return d.db.Close()
}

// Open returns the blob with hash h. It checks the file against the index
// before returning it; a file that changed since it was hashed is not
// returned (the error wraps fs.ErrNotExist) and a rescan is requested.
func (d *Disk) Open(ctx context.Context, h urn.Hash) (Blob, error) {
	bucket := bucketSHA256
	if h.Kind == urn.BLAKE3 {
		bucket = bucketBLAKE3
	}
	var entries []Entry
	err := d.db.View(func(tx *bbolt.Tx) error {
		for _, p := range pathsFor(tx, bucket, h.Sum) {
			if e, err := decodeEntry(p, tx.Bucket(bucketFiles).Get([]byte(p))); err == nil {
				entries = append(entries, e)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		b, err := d.handles.get(d.openFile, e)
		if err != nil {
			d.Rescan()
			continue
		}
		moved, err := b.check()
		if err != nil {
			b.Close()
			d.Rescan()
			continue
		}
		if moved {
			d.Rescan()
		}
		return b, nil
	}
	return nil, notFound(h.String())
}

// openFile opens rel, slash-separated, below the served folder: with one
// openat2 where the kernel has it, else (or when that fails) through
// os.Root, which decides. Either way nothing outside the folder is opened.
func (d *Disk) openFile(rel string) (*os.File, error) {
	d.bmu.RLock()
	f, ok := d.bn.open(rel)
	d.bmu.RUnlock()
	if ok {
		return f, nil
	}
	return d.root.Open(filepath.FromSlash(rel))
}

// Rescan asks Watch for a pass as soon as possible.
func (d *Disk) Rescan() {
	select {
	case d.rescan <- struct{}{}:
	default:
	}
}

// Watch rescans every interval, and sooner when Open found a changed file,
// until ctx is done.
func (d *Disk) Watch(ctx context.Context, interval time.Duration) {
	WatchPasses(ctx, interval, d.rescan, d.log, "files", d.Scan)
}

// WatchPasses runs scan every interval, and 200 ms after a nudge (so that a
// burst of changes makes one pass), until ctx is done, logging passes that
// changed something (what names the things counted) and passes that
// failed. It is the Watch of the disk store and of other backends.
//
// A pass that took long spaces the periodic ones (see nextPass); nudges
// still start one at once.
func WatchPasses(ctx context.Context, interval time.Duration, nudge <-chan struct{}, log *slog.Logger, what string, scan func(context.Context) (ScanStats, error)) {
	t := time.NewTimer(interval)
	defer t.Stop()
	next := interval
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-nudge:
			select {
			case <-ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
		start := time.Now()
		st, err := scan(ctx)
		if took := time.Since(start); err == nil && st.Hashed == 0 {
			// A pass that hashed nothing is the cost of looking.
			was := next
			next = nextPass(interval, took)
			if next > interval && was == interval {
				log.Info("index passes are slow: looking every "+next.Round(time.Second).String()+" instead of every --rescan (SIGHUP starts one at once)",
					what, st.Files, "pass", took.Round(time.Millisecond), "rescan", interval)
			}
		}
		t.Stop()
		t.Reset(next)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("rescan failed", "err", err)
		case st.Hashed > 0 || st.Removed > 0:
			log.Info("rescan", what, st.Files, "hashed", st.Hashed, "removed", st.Removed, "elapsed", st.Elapsed.Round(time.Millisecond))
		}
	}
}

// passShare is the most of rtpd's time periodic passes may take: a pass
// that walks a million files (10 s of CPU here) every 30 s would keep a
// core a third busy for nothing.
const passShare = 20

// nextPass returns the wait before the next periodic pass, after one that
// took took: interval, or passShare times the pass if that is longer.
func nextPass(interval, took time.Duration) time.Duration {
	return max(interval, passShare*took)
}

// List calls fn for every indexed file, in path order.
func (d *Disk) List(ctx context.Context, fn func(Entry) error) error {
	return d.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketFiles).ForEach(func(k, v []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			e, err := decodeEntry(string(k), v)
			if err != nil {
				return nil
			}
			return fn(e)
		})
	})
}

// changing logs, once until the file is served, that the file at path
// changed while it was hashed, and asks for another pass.
func (d *Disk) changing(path string) {
	d.warn(path, "not served yet: the file changed while it was hashed; trying again on the next pass", nil)
	d.Rescan()
}

// unwarn forgets the warnings logged for path, once it is served.
func (d *Disk) unwarn(path string) {
	d.warnMu.Lock()
	defer d.warnMu.Unlock()
	delete(d.warned, path)
}

// warn logs msg for path unless the same warning was logged for it before.
func (d *Disk) warn(path, msg string, err error) {
	d.warnMu.Lock()
	defer d.warnMu.Unlock()
	key := msg + fmt.Sprint(err)
	if d.warned[path] == key {
		return
	}
	d.warned[path] = key
	if err == nil {
		d.log.Warn(msg, "path", path)
		return
	}
	d.log.Warn(msg, "path", path, "err", err)
}
