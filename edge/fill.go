package edge

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/rtp-project/rtp/internal/atomicfile"
	"github.com/rtp-project/rtp/outboard"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/swarm"
	"github.com/rtp-project/rtp/urn"
)

// fill is the one download of a hash the edge lacks, shared by every OPEN
// of it while it runs. It learns the length (and, for a blake3 urn, the
// tree) from the upstreams, then downloads with package swarm into a .part
// file in the cache. With a tree every byte swarm writes has been checked
// against it, so each write makes its bytes readable at once (avail);
// without one (a sha256 urn, or upstreams that keep no trees) nothing is
// readable until the whole has been verified.
type fill struct {
	e   *Edge
	key urn.Hash
	log *slog.Logger

	probed    chan struct{} // closed once size and tree are known, or err
	done      chan struct{} // closed when the fill has ended
	size      int64
	tree      *outboard.Tree // nil: verified whole at the end
	treeBytes []byte
	err       error // why the length could not be learnt

	av       *avail
	file     *os.File // the .part; closed by the last of the fill and its blobs
	reserved int64    // bytes counted against the cache size while it runs

	// Guarded by e.mu.
	users int    // uses taken (fillFor) and not released
	entry *entry // the whole blob, once the fill completed
	ended bool
}

func newFill(e *Edge, h urn.Hash) *fill {
	return &fill{e: e, key: h, log: e.log.With("fill", h.String()), probed: make(chan struct{}), done: make(chan struct{}), av: newAvail()}
}

func (f *fill) name() string { return f.key.Kind.String() + "-" + f.key.Hex() }

func (f *fill) partPath() string {
	return filepath.Join(f.e.cfg.Dir, "fill", f.name()+".part")
}

func (f *fill) isProbed() bool {
	select {
	case <-f.probed:
		return true
	default:
		return false
	}
}

// waitProbed waits until the length is known.
func (f *fill) waitProbed(ctx context.Context) error {
	select {
	case <-f.probed:
		return f.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// release gives back a use taken by fillFor.
func (f *fill) release() {
	e := f.e
	e.mu.Lock()
	defer e.mu.Unlock()
	f.users--
	if f.entry != nil {
		f.entry.users--
		e.evictLocked()
	}
	f.closeIfDoneLocked()
}

func (f *fill) closeIfDoneLocked() {
	if f.ended && f.users == 0 && f.file != nil {
		f.file.Close()
		f.file = nil
	}
}

func (f *fill) run() {
	defer f.e.fillWG.Done()
	defer close(f.done)
	err := f.fetch()
	e := f.e
	if err == nil {
		e.met.fillsDone.Add(1)
	} else {
		e.met.fillsFailed.Add(1)
	}
	// The fill leaves the map (and a hash none holds enters the negative
	// cache) before anyone hears it failed: an OPEN that follows starts
	// afresh or is answered from the negative cache, never joins this one.
	e.mu.Lock()
	if errors.Is(err, errNoneHolds) {
		e.neg.add(f.key, e.cfg.now())
	}
	delete(e.fills, f.key)
	if err != nil {
		e.reserved -= f.reserved
	}
	f.ended = true
	f.closeIfDoneLocked()
	e.mu.Unlock()
	if err == nil {
		return
	}
	if !f.isProbed() {
		f.err = err
		close(f.probed)
	}
	f.av.fail(err)
	if errors.Is(err, errNoneHolds) {
		f.log.Info("no upstream holds it")
	} else if e.ctx.Err() == nil {
		f.log.Warn("fill failed; kept for a resume", "err", err)
	}
}

// fetch runs the fill: the length, the download, the hashes, and the
// blob's move into the cache.
func (f *fill) fetch() error {
	e := f.e
	if err := f.learn(e.ctx); err != nil {
		return err
	}
	f.reserved = f.size
	e.reserve(f.size)
	if f.tree != nil {
		if err := atomicfile.Write(e.treePath(f.key.Sum), f.treeBytes, 0o600); err != nil {
			return err
		}
	}
	file, err := os.OpenFile(f.partPath(), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	f.file = file
	// A .part kept from an earlier run is of this length; anything past it
	// (a run told another length) must not end up in the blob.
	if err := file.Truncate(f.size); err != nil {
		return err
	}
	state := f.partPath() + ".state"
	if f.tree != nil {
		f.markKept(state)
	}
	close(f.probed)

	var sha hash.Hash // hashed from the in-order pass when the tree checks blake3
	if f.tree != nil {
		sha = sha256.New()
	}
	if f.size > 0 {
		d := swarm.New(swarm.Config{
			URL:    &rtpurl.URL{Hashes: []urn.Hash{f.key}, Length: f.size, Servers: e.upstreams},
			Client: e.cfg.Client,
			Stall:  e.cfg.Stall,
			Tree:   f.tree,
			// The origin's egress is what an edge saves: endgame copies
			// only of blocks whose session has stalled.
			PatientEndgame: true,
			Log:            f.log,
		})
		var stream io.Writer
		if sha != nil {
			stream = sha
		}
		res, err := d.Run(e.ctx, &output{f: file, av: f.av, tree: f.tree != nil}, state, stream)
		if res != nil {
			e.met.fillBytes.Add(uint64(res.Fetched))
		}
		if err != nil {
			return store.Unavailable(fmt.Errorf("fill: %w", err))
		}
	}
	en := &entry{size: f.size}
	if f.tree != nil && sha != nil {
		en.b3 = f.key.Sum
		copy(en.sha[:], sha.Sum(nil))
	} else {
		// Verified whole by swarm; hashed here for the other urn and the
		// tree.
		sums, tree, err := hashFile(file, f.size)
		if err != nil {
			return err
		}
		if sums.Of(f.key.Kind) != f.key.Sum {
			return fmt.Errorf("fill: the bytes do not hash to %s", f.key)
		}
		en.b3, en.sha = sums.BLAKE3, sums.SHA256
		if err := atomicfile.Write(e.treePath(en.b3), tree, 0o600); err != nil {
			return err
		}
	}
	if err := file.Sync(); err != nil {
		return err
	}
	if err := os.Rename(f.partPath(), e.blobPath(en.b3)); err != nil {
		return err
	}
	os.Remove(state)
	if err := e.record(en); err != nil {
		return err
	}
	e.mu.Lock()
	en.users = f.users
	f.entry = e.addLocked(en, f.reserved)
	e.mu.Unlock()
	f.av.complete()
	f.log.Info("filled", "bytes", f.size)
	return nil
}

// markKept makes readable the blocks that the resume state of an earlier
// run lists as done and verified against this tree: swarm trusts them on
// the same ground and does not write them again.
func (f *fill) markKept(path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	var st swarm.State
	if json.Unmarshal(b, &st) != nil || st.Length != f.size || st.BlockSize <= 0 || st.Verified != f.key.String() {
		return
	}
	for i := int64(0); i*st.BlockSize < f.size; i++ {
		if i/8 < int64(len(st.Done)) && st.Done[i/8]&(1<<(i%8)) != 0 {
			f.av.add(i*st.BlockSize, min((i+1)*st.BlockSize, f.size))
		}
	}
}

// output is swarm's output: the .part file. With a tree, every write is of
// bytes swarm has checked against it, so each makes its range readable.
type output struct {
	f    *os.File
	av   *avail
	tree bool
}

func (o *output) WriteAt(p []byte, off int64) (int, error) {
	n, err := o.f.WriteAt(p, off)
	if o.tree && n > 0 {
		o.av.add(off, off+int64(n))
	}
	return n, err
}

func (o *output) ReadAt(p []byte, off int64) (int, error) { return o.f.ReadAt(p, off) }
func (o *output) Sync() error                             { return o.f.Sync() }

// hashFile hashes the first n bytes of f: sha256, blake3 and the tree.
func hashFile(f *os.File, n int64) (urn.Sums, []byte, error) {
	tree := make(memTree, outboard.Size(n))
	enc := outboard.NewEncoder(n, tree)
	sums, err := urn.HashReaderWith(io.NewSectionReader(f, 0, n), nil, enc, urn.SHA256, urn.BLAKE3)
	if err == nil {
		err = enc.Err()
	}
	if err == nil && sums.N != n {
		err = fmt.Errorf("fill: %d bytes on disk, not %d", sums.N, n)
	}
	return sums, tree, err
}

type memTree []byte

func (m memTree) WriteAt(p []byte, off int64) (int, error) { return copy(m[off:], p), nil }
