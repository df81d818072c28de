package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.etcd.io/bbolt"

	"github.com/rtp-project/rtp/outboard"
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

	indexed, err := d.indexedFiles(ctx)
	if err != nil {
		return stats, err
	}
	recheck, err := d.oldRules()
	if err != nil {
		return stats, err
	}
	found := make(map[string]bool)
	kept := make(map[string]bool) // served while hashed again: only the ctime moved
	var todo []scanJob
	err = d.walkServed(ctx, d.dir, &stats, func(rel string, fi fs.FileInfo) error {
		st := statOf(fi)
		if e, ok := indexed[rel]; ok && e.stat.sameBytes(st) && (e.tree || d.opts.NoTrees) {
			if recheck && d.keyFile(rel, st.Size) {
				stats.Skipped++
				return nil
			}
			if e.stat == st {
				found[rel] = true
				return nil
			}
			// chmod -R on the folder must not make it vanish until each
			// file's turn comes: the old entry stays until the new one
			// replaces it (or the hash drops it).
			kept[rel] = true
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
		if !found[p] && !kept[p] {
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
	stats.Removed = len(gone) - (len(todo) - len(kept)) + countNew(todo, indexed)

	hashed, skipped, err := d.hashAll(ctx, todo, start)
	stats.Hashed = len(hashed)
	stats.Skipped += skipped
	for _, j := range hashed {
		stats.HashedBytes += j.st.Size
	}
	if err != nil {
		return stats, err
	}
	if recheck {
		if err := d.setRules(); err != nil {
			return stats, err
		}
	}
	if len(gone) == 0 && len(todo) == 0 {
		// Nothing changed: what is served is what was indexed.
		for _, e := range indexed {
			stats.Files++
			stats.Bytes += e.stat.Size
		}
		stats.Elapsed = time.Since(start)
		return stats, nil
	}
	d.sweepTrees()
	// Served now: what the walk found unchanged, and what was hashed.
	for rel := range found {
		stats.Files++
		stats.Bytes += indexed[rel].stat.Size
	}
	stats.Files += len(hashed)
	stats.Bytes += stats.HashedBytes
	stats.Elapsed = time.Since(start)
	return stats, nil
}

// walkServed calls fn for each file under start (the served folder or a
// folder in it) that the rules serve, with its slash-separated path in
// the served folder and its FileInfo (the target's, for a symlink), in the
// walk's order. What the rules leave out is logged and counted in stats.
// A file's content (a private key) is not checked here: the pass checks
// it as it hashes.
func (d *Disk) walkServed(ctx context.Context, start string, stats *ScanStats, fn func(rel string, fi fs.FileInfo) error) error {
	return walkDir(start, func(p string, de fs.DirEntry, err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if err != nil {
			if shortOf(err) {
				// Out of file descriptors or memory for a moment: the
				// files below would count as gone and be hashed again
				// once back. The pass fails, and the index stays as it
				// was until the next one.
				return fmt.Errorf("reading %s: %w", p, err)
			}
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
		return fn(filepath.ToSlash(rel), fi)
	})
}

// indexedFile is what a pass compares a file on the disk with.
type indexedFile struct {
	stat fileStat
	tree bool
}

// indexedFiles returns the index's files by path, in one read transaction
// that decodes only what a pass compares.
func (d *Disk) indexedFiles(ctx context.Context) (map[string]indexedFile, error) {
	var m map[string]indexedFile
	err := d.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketFiles)
		m = make(map[string]indexedFile, b.Stats().KeyN)
		return b.ForEach(func(k, v []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			if e, err := decodeEntry("", v); err == nil {
				m[string(k)] = indexedFile{e.stat, e.tree}
			}
			return nil
		})
	})
	return m, err
}

// countNew counts jobs for paths that were not in the index, so that Removed
// counts only files that disappeared, not files re-hashed.
func countNew(todo []scanJob, indexed map[string]indexedFile) int {
	n := 0
	for _, j := range todo {
		if _, ok := indexed[j.rel]; !ok {
			n++
		}
	}
	return n
}

// hashAll hashes jobs on Workers goroutines, largest first so a big file
// starts early and small ones fill the other cores, and records them in the
// index in groups (see commitGroups) as they are done.
func (d *Disk) hashAll(ctx context.Context, todo []scanJob, start time.Time) (done []scanJob, skipped int, err error) {
	if len(todo) == 0 {
		return nil, 0, nil
	}
	sort.Slice(todo, func(i, j int) bool { return todo[i].st.Size > todo[j].st.Size })
	var total int64
	for _, j := range todo {
		total += j.st.Size
	}
	prog := StartProgress(d.opts.Progress, start, len(todo), total)

	// A failed commit stops the hashing: nothing more could be recorded.
	hctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	results := make(chan hashed, commitMax)
	committed := make(chan error, 1)
	go func() {
		var err error
		done, err = d.commitGroups(results)
		if err != nil {
			cancel(err)
		}
		committed <- err
	}()

	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	var bigSlots chan struct{} // nil: no limit
	workers, big := d.workers()
	if big < workers {
		bigSlots = make(chan struct{}, big)
	}
	bn := openBeneath(d.dir)
	if bn != nil {
		defer bn.close()
	}
	jobs := make(chan scanJob)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for j := range jobs {
				if bigSlots != nil && j.st.Size >= smallFile {
					bigSlots <- struct{}{}
				}
				h, err := d.hashOne(j, bn, &buf, func(n int) { prog.Bytes.Add(int64(n)) })
				if bigSlots != nil && j.st.Size >= smallFile {
					<-bigSlots
				}
				prog.Files.Add(1)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					continue
				}
				if h.entry == nil {
					mu.Lock()
					skipped++
					mu.Unlock()
				}
				results <- h
			}
		}()
	}
	for _, j := range todo {
		select {
		case jobs <- j:
			continue
		case <-hctx.Done():
		}
		break
	}
	close(jobs)
	wg.Wait()
	close(results)
	cerr := <-committed
	prog.Stop()
	switch {
	case cerr != nil:
		return done, skipped, cerr
	case firstErr != nil:
		return done, skipped, firstErr
	}
	return done, skipped, ctx.Err()
}

// smallFile is the size below which a file counts as small: reading it
// costs more in system calls and waiting for the disk than in hashing, so
// more of them are read at once than there are cores.
const smallFile = 1 << 20

// smallWorkers is the least number of small files hashed at once when
// Options.Workers is zero.
const smallWorkers = 32

// workers returns how many files are hashed at once, and how many of
// those may be large ones.
func (d *Disk) workers() (all, big int) {
	if d.opts.Workers > 0 {
		return d.opts.Workers, d.opts.Workers
	}
	n := runtime.GOMAXPROCS(0)
	return max(n, smallWorkers), n
}

// hashed is one file's outcome: its entry and the tree to keep in the
// index, or, when entry is nil, a file not to serve.
type hashed struct {
	job    scanJob
	entry  *Entry
	inline []byte
}

// hashOne hashes one file, opened through bn if it can (see beneath), a
// small one through buf. It returns a nil entry, with a warning, for a file
// it cannot read or that changed while it was read; an error only when the
// tree cannot be kept.
func (d *Disk) hashOne(j scanJob, bn *beneath, buf *[]byte, progress func(int)) (hashed, error) {
	drop := hashed{job: j}
	settle(j)
	if hook, report := d.hashHook, progress; hook != nil {
		// After each chunk of a large file; before a small one is read
		// (after the walk's stat), as its read is one.
		progress = func(n int) { report(n); hook(j.rel) }
		if j.st.Size < smallFile {
			hook(j.rel)
		}
	}
	if j.st.Size < smallFile {
		// Open, read, fstat, close: the stat after the read must be the
		// walk's, so the bytes are those of the version the walk saw.
		b, after, ok, err := bn.readSmall(j.rel, j.st.Size, buf)
		switch {
		case !ok:
		case err != nil && err != errNotRegular:
			d.warn(j.rel, "not served: read failed", err)
			return drop, nil
		case err != nil || after != j.st || int64(len(b)) != j.st.Size:
			// It is being written; the next pass will try again.
			d.changing(j.rel)
			return drop, nil
		default:
			progress(len(b))
			return d.sumBytes(j, b)
		}
	}
	f, ok := bn.open(j.rel)
	var err error
	if !ok {
		f, err = d.root.Open(filepath.FromSlash(j.rel))
	}
	if err != nil {
		d.warn(j.rel, "not served: cannot open", err)
		return drop, nil
	}
	defer f.Close()
	before, err := f.Stat()
	if err != nil || !before.Mode().IsRegular() {
		return drop, nil
	}
	st := statOf(before)
	if st != j.st {
		// Changed since the walk, and so perhaps since settle.
		d.changing(j.rel)
		return drop, nil
	}
	if st.Size < smallFile {
		b, err := readWhole(f, st.Size, buf)
		if err != nil {
			d.warn(j.rel, "not served: read failed", err)
			return drop, nil
		}
		after, err := f.Stat()
		if err != nil || statOf(after) != st || int64(len(b)) != st.Size {
			d.changing(j.rel)
			return drop, nil
		}
		progress(len(b))
		return d.sumBytes(j, b)
	}
	// Larger than maxKeyFile: not a key file (sumBytes checks small ones).
	tree, err := d.treeFor(st.Size)
	if err != nil {
		return drop, err
	}
	var b3 hash.Hash
	if tree != nil {
		defer tree.Discard()
		b3 = tree.Enc
	}
	sums, err := urn.HashReaderWith(f, progress, b3)
	if after, serr := f.Stat(); serr != nil || statOf(after) != st || sums.N != st.Size {
		// It is being written (the tree's Err then says so too); the next
		// pass will try again.
		d.changing(j.rel)
		return drop, nil
	}
	if err == nil && tree != nil {
		err = tree.Enc.Err()
	}
	if err != nil {
		d.warn(j.rel, "not served: read failed", err)
		return drop, nil
	}
	return d.entry(j, sums, tree)
}

// treeFor returns where the tree of a file of n bytes goes while it is
// hashed, or nil when none is built here: with NoTrees, or for one group,
// whose tree is its length alone, made on OPEN.
func (d *Disk) treeFor(n int64) (*TreeSink, error) {
	if d.opts.NoTrees || outboard.Size(n) <= 8 {
		return nil, nil
	}
	return NewTreeSink(d.treeDir(), n)
}

// entry makes the index entry of a file hashed whole, and keeps its tree.
func (d *Disk) entry(j scanJob, sums urn.Sums, tree *TreeSink) (hashed, error) {
	d.unwarn(j.rel)
	e := Entry{Path: j.rel, Size: j.st.Size, SHA256: sums.SHA256, BLAKE3: sums.BLAKE3, stat: j.st, tree: !d.opts.NoTrees}
	var inline []byte
	if tree != nil {
		var err error
		if inline, err = tree.Keep(sums.BLAKE3); err != nil {
			return hashed{job: j}, err
		}
	}
	return hashed{job: j, entry: &e, inline: inline}, nil
}

// sumBytes hashes b, all of the file of job j, and makes its entry.
func (d *Disk) sumBytes(j scanJob, b []byte) (hashed, error) {
	if int64(len(b)) <= maxKeyFile && holdsPrivateKey(b) {
		d.warn(j.rel, "not served: holds a private key", nil)
		return hashed{job: j}, nil
	}
	tree, err := d.treeFor(int64(len(b)))
	if err != nil {
		return hashed{job: j}, err
	}
	sums := urn.Sums{N: int64(len(b)), SHA256: sha256.Sum256(b)}
	if tree == nil {
		sums.BLAKE3 = outboard.Sum(b) // on this goroutine: the pass runs one per core
	} else {
		defer tree.Discard()
		tree.Enc.Write(b)
		tree.Enc.Sum(sums.BLAKE3[:0])
		if err := tree.Enc.Err(); err != nil {
			return hashed{job: j}, err
		}
	}
	return d.entry(j, sums, tree)
}

// readWhole reads f, of n bytes, fewer than smallFile, into *buf (grown as
// needed): one read on a local file system. It reads up to one byte more
// than n, so that a file that grew shows.
func readWhole(f *os.File, n int64, buf *[]byte) ([]byte, error) {
	if int64(cap(*buf)) < n+1 {
		*buf = make([]byte, max(n+1, 64<<10))
	}
	b := (*buf)[:n+1]
	got := 0
	for int64(got) < n {
		k, err := f.Read(b[got:])
		got += k
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return b[:got], nil
}

// Progress reports an index pass's progress to a ScanProgress callback:
// every 200 ms, and once more, Done, at Stop. Add to Files and Bytes as
// they are hashed.
type Progress struct {
	Files, Bytes atomic.Int64
	fn           func(ScanProgress)
	start        time.Time
	files        int
	bytes        int64
	stop         chan struct{}
	done         chan struct{}
}

// StartProgress starts reporting to fn (nil: nothing is reported) a pass
// begun at start over files files of bytes bytes in all.
func StartProgress(fn func(ScanProgress), start time.Time, files int, bytes int64) *Progress {
	p := &Progress{fn: fn, start: start, files: files, bytes: bytes, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.report(false)
			}
		}
	}()
	return p
}

func (p *Progress) report(last bool) {
	if p.fn != nil {
		p.fn(ScanProgress{
			Files: int(p.Files.Load()), FilesTotal: p.files,
			Bytes: p.Bytes.Load(), BytesTotal: p.bytes,
			Elapsed: time.Since(p.start), Done: last,
		})
	}
}

// Stop ends the reports with a last one, Done.
func (p *Progress) Stop() {
	close(p.stop)
	<-p.done
	p.report(true)
}

// shortOf reports whether err says the system is short of something for
// the moment (file descriptors, memory, buffers), not that the path itself
// cannot be read.
func shortOf(err error) bool {
	for _, e := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOMEM, syscall.ENOBUFS, syscall.EAGAIN, syscall.EINTR} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
