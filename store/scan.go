package store

import (
	"context"
	"errors"
	"hash"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"

	"github.com/rtp-project/rtp/urn"
)

// ScanProgress is a snapshot of a running pass.
type ScanProgress struct {
	Files, FilesTotal int   // files hashed so far, and to hash in this pass
	Bytes, BytesTotal int64 // bytes hashed so far, and to hash
	Elapsed           time.Duration
	Done              bool
}

// ScanStats summarises a pass.
type ScanStats struct {
	Files       int   // files served after the pass
	Bytes       int64 // their total size
	Hashed      int   // files hashed in this pass
	HashedBytes int64
	Removed     int // index entries dropped
	Skipped     int // files not served: unreadable, symlinks out of the folder, changing while hashed
	Elapsed     time.Duration
}

type scanJob struct {
	rel string
	st  fileStat
}

// Scan brings the index up to date with the folder: it hashes new and
// changed files (keyed on path, size, mtime, ctime and inode), drops removed
// ones, and never indexes symlinks that leave the folder, files it cannot
// read, nor what exclude.go says is never served (rtpd state, private
// keys) or is left out by default (dot-files, partial downloads); an index
// entry for such a file, written by an older rtpd or under other Options,
// is dropped. Passes do not overlap.
func (d *Disk) Scan(ctx context.Context) (ScanStats, error) {
	d.scanMu.Lock()
	defer d.scanMu.Unlock()
	start := time.Now()
	var stats ScanStats

	indexed := make(map[string]Entry)
	err := d.List(ctx, func(e Entry) error { indexed[e.Path] = e; return nil })
	if err != nil {
		return stats, err
	}
	recheck, err := d.oldRules()
	if err != nil {
		return stats, err
	}
	found := make(map[string]bool)
	var todo []scanJob
	err = filepath.WalkDir(d.dir, func(p string, de fs.DirEntry, err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if err != nil {
			d.warn(p, "not served: cannot read", err)
			stats.Skipped++
			return nil
		}
		rel, err := filepath.Rel(d.dir, p)
		if err != nil {
			return err
		}
		if p != d.dir && d.skipped(de.Name()) {
			if de.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if de.IsDir() {
			if why := d.stateDir(p); why != "" {
				if p != d.indexDir {
					d.warn(rel, "not served: "+why, nil)
					stats.Skipped++
				}
				return filepath.SkipDir
			}
			return nil
		}
		var fi fs.FileInfo
		switch {
		case de.Type()&fs.ModeSymlink != 0:
			// os.Root follows the link only while it stays inside the folder.
			fi, err = d.root.Stat(rel)
			if err != nil {
				d.warn(rel, "not served: symlink leaves the folder or is broken", err)
				stats.Skipped++
				return nil
			}
			// The target must be one the rules allow to serve.
			if why := d.linkTarget(p); why != "" {
				d.warn(rel, "not served: symlink to a file "+why, nil)
				stats.Skipped++
				return nil
			}
		case de.Type().IsRegular():
			fi, err = de.Info()
			if err != nil {
				return nil // removed while walking
			}
		default:
			return nil
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		if d.isPrivate(fi) {
			d.warn(rel, "not served: a file named private (the TLS certificate or key)", nil)
			stats.Skipped++
			return nil
		}
		rel = filepath.ToSlash(rel)
		st := statOf(fi)
		if e, ok := indexed[rel]; ok && e.stat == st && (e.tree || d.opts.NoTrees) {
			if recheck && d.keyFile(rel, st.Size) {
				stats.Skipped++
				return nil
			}
			found[rel] = true
			return nil
		}
		todo = append(todo, scanJob{rel: rel, st: st})
		return nil
	})
	if err != nil {
		return stats, err
	}

	// Drop what is gone before hashing, so a removed file stops being served
	// at once.
	var gone []string
	for p := range indexed {
		if !found[p] {
			gone = append(gone, p)
		}
	}
	if len(gone) > 0 {
		err := d.db.Update(func(tx *bbolt.Tx) error {
			for _, p := range gone {
				if err := deleteEntry(tx, p); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return stats, err
		}
	}
	stats.Removed = len(gone) - len(todo) + countNew(todo, indexed)

	hashed, skipped, err := d.hashAll(ctx, todo, start)
	stats.Hashed = len(hashed)
	stats.Skipped += skipped
	for _, j := range hashed {
		stats.HashedBytes += j.st.Size
	}
	if err != nil {
		return stats, err
	}
	if len(gone) > 0 || len(todo) > 0 {
		d.sweepTrees()
	}
	if recheck {
		if err := d.setRules(); err != nil {
			return stats, err
		}
	}
	err = d.List(ctx, func(e Entry) error { stats.Files++; stats.Bytes += e.Size; return nil })
	stats.Elapsed = time.Since(start)
	return stats, err
}

// countNew counts jobs for paths that were not in the index, so that Removed
// counts only files that disappeared, not files re-hashed.
func countNew(todo []scanJob, indexed map[string]Entry) int {
	n := 0
	for _, j := range todo {
		if _, ok := indexed[j.rel]; !ok {
			n++
		}
	}
	return n
}

// hashAll hashes jobs on Workers goroutines, largest first so a big file
// starts early and small ones fill the other cores, and records each in the
// index as soon as it is done.
func (d *Disk) hashAll(ctx context.Context, todo []scanJob, start time.Time) (done []scanJob, skipped int, err error) {
	if len(todo) == 0 {
		return nil, 0, nil
	}
	sort.Slice(todo, func(i, j int) bool { return todo[i].st.Size > todo[j].st.Size })
	var total int64
	for _, j := range todo {
		total += j.st.Size
	}
	var files, bytes atomic.Int64
	report := func(last bool) {
		if d.opts.Progress != nil {
			d.opts.Progress(ScanProgress{
				Files: int(files.Load()), FilesTotal: len(todo),
				Bytes: bytes.Load(), BytesTotal: total,
				Elapsed: time.Since(start), Done: last,
			})
		}
	}
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				report(false)
			}
		}
	}()
	workers := d.opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	jobs := make(chan scanJob)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				ok, err := d.hashOne(j, func(n int) { bytes.Add(int64(n)) })
				files.Add(1)
				mu.Lock()
				switch {
				case err != nil && firstErr == nil:
					firstErr = err
				case ok:
					done = append(done, j)
				default:
					skipped++
				}
				mu.Unlock()
			}
		}()
	}
	for _, j := range todo {
		select {
		case jobs <- j:
			continue
		case <-ctx.Done():
		}
		break
	}
	close(jobs)
	wg.Wait()
	close(stop)
	report(true)
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return done, skipped, firstErr
}

// hashOne hashes one file and records it. It returns false, with a warning,
// for a file it cannot read or that changed while it was read; an error only
// when the index cannot be written.
func (d *Disk) hashOne(j scanJob, progress func(int)) (bool, error) {
	drop := func() error {
		return d.db.Update(func(tx *bbolt.Tx) error { return deleteEntry(tx, j.rel) })
	}
	f, err := d.root.Open(filepath.FromSlash(j.rel))
	if err != nil {
		d.warn(j.rel, "not served: cannot open", err)
		return false, drop()
	}
	defer f.Close()
	before, err := f.Stat()
	if err != nil || !before.Mode().IsRegular() {
		return false, drop()
	}
	st := statOf(before)
	if fileHoldsPrivateKey(f, st.Size) {
		d.warn(j.rel, "not served: holds a private key", nil)
		return false, drop()
	}
	var tree *treeSink
	var b3 hash.Hash
	if !d.opts.NoTrees {
		if tree, err = d.newTreeSink(st.Size); err != nil {
			return false, err
		}
		defer tree.discard()
		b3 = tree.enc
	}
	if hook, report := d.hashHook, progress; hook != nil {
		progress = func(n int) { report(n); hook(j.rel) }
	}
	sums, err := urn.HashReaderWith(f, progress, b3)
	if after, serr := f.Stat(); serr != nil || statOf(after) != st || sums.N != st.Size {
		// It is being written (the tree's Err then says so too); the next
		// pass will try again.
		d.changing(j.rel)
		return false, drop()
	}
	if err == nil && tree != nil {
		err = tree.enc.Err()
	}
	if err != nil {
		d.warn(j.rel, "not served: read failed", err)
		return false, drop()
	}
	e := Entry{Path: j.rel, Size: st.Size, SHA256: sums.SHA256, BLAKE3: sums.BLAKE3, stat: st, tree: tree != nil}
	var inline []byte
	if tree != nil {
		if inline, err = tree.keep(sums.BLAKE3); err != nil {
			return false, err
		}
	}
	err = d.db.Batch(func(tx *bbolt.Tx) error { return putEntry(tx, &e, inline) })
	if errors.Is(err, os.ErrClosed) {
		return false, err
	}
	if err == nil {
		d.unwarn(j.rel)
	}
	return err == nil, err
}
