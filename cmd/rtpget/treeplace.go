package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sync"
	"time"

	"github.com/rtp-project/rtp/client"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/swarm"
	"github.com/rtp-project/rtp/urn"
)

// Placing: verified parts are renamed to their paths in batches. Before a
// batch is renamed, one syncfs makes all its parts durable (an fsync per
// file would cost thousands of journal commits), so no final name ever
// holds bytes that are not on disk; the state is saved every 2 s and at
// the end, after the renames it records.
const (
	placeBatch = 2048
	placeEvery = 500 * time.Millisecond
	saveEvery  = 2 * time.Second
	// saveShare: a save (the whole state, under the tree's lock) waits at
	// least this many times as long as the last one took, so a tree of a
	// million files, whose state takes a second to write, is not saved
	// every two seconds.
	saveShare = 20
)

// startPlacer starts the goroutine that places what is sent on the
// returned channel; t.placed is closed once the channel is closed and
// everything sent is placed.
func (t *treeFetch) startPlacer() chan<- placement {
	ch := make(chan placement, placeBatch)
	t.placed = make(chan struct{})
	go func() {
		defer close(t.placed)
		dirf, err := t.dir.root.Open(".")
		if err != nil {
			for p := range ch {
				t.failFile(p.file.Path, err)
			}
			return
		}
		defer dirf.Close()
		var batch []placement
		lastSave := time.Now()
		var saveTook time.Duration
		flush := func() {
			if len(batch) == 0 {
				return
			}
			if err := syncAll(dirf); err != nil {
				for _, p := range batch {
					t.failFile(p.file.Path, err)
				}
				batch = batch[:0]
				return
			}
			for _, p := range batch {
				fi, err := t.dir.place(p.part, p.file.Path)
				if err != nil {
					t.failFile(p.file.Path, err)
					// A content's own part stays for the next run,
					// which checks it and places it instead of
					// fetching it again; a copy is made again.
					if p.copy {
						t.dir.parts.Remove(p.part)
					}
					continue
				}
				t.mu.Lock()
				t.st.Files[p.file.Path] = record(fi, p.file)
				t.sum.Placed++
				t.mu.Unlock()
			}
			batch = batch[:0]
			if time.Since(lastSave) >= max(saveEvery, saveShare*saveTook) {
				start := time.Now()
				t.mu.Lock()
				err := t.dir.saveState(t.st)
				t.mu.Unlock()
				if err != nil {
					t.log.Warn("saving the tree's state failed", "err", err)
				}
				lastSave = time.Now()
				saveTook = lastSave.Sub(start)
			}
		}
		tick := time.NewTicker(placeEvery)
		defer tick.Stop()
		for {
			select {
			case p, ok := <-ch:
				if !ok {
					flush()
					return
				}
				batch = append(batch, p)
				if len(batch) >= placeBatch {
					flush()
				}
			case <-tick.C:
				flush()
			}
		}
	}()
	return ch
}

// newLanes sets up the shared sessions for small files.
func (t *treeFetch) newLanes(pl chan<- placement) *lanes {
	c := t.g.c
	opts := client.Options{}
	if t.g.opts != nil {
		opts = *t.g.opts
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = c.Duration(flagStall)
	}
	per := 2
	if c.IsSet(flagSessions) {
		per = c.Int(flagSessions)
	}
	t.refused = &refusals{opts: opts, log: t.log}
	l := &lanes{
		dialFn: t.refused.dial,
		perSrv: per, stall: c.Duration(flagStall), retryFor: c.Duration(flagRetryFor), sha: t.sha(), log: t.log,
		failed: t.failContent,
	}
	// Files are created and written by writers of their own, so that the
	// lanes go on receiving meanwhile: creating a file costs more than
	// receiving a small one.
	l.done = func(ct *content, b []byte) error {
		t.writes <- verifiedBytes{ct, b}
		return nil
	}
	for _, d := range t.u.Servers {
		l.servers = append(l.servers, &laneServer{dial: d})
	}
	return l
}

// fetchBig downloads one big content with a swarm of its own into
// partsDir/HEX.part, resumable (HEX.part.state beside it), and renames it
// to HEX once verified.
func (t *treeFetch) fetchBig(ctx context.Context, c *content) error {
	if ctx.Err() != nil {
		return errInterrupted
	}
	if t.reusePart(ctx, c) {
		return nil
	}
	partName := c.part + ".part"
	f, err := t.dir.parts.OpenFile(partName, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := reserve(f, c.size); err != nil {
		return fmt.Errorf("reserving %d bytes: %w", c.size, err)
	}
	u := &rtpurl.URL{Hashes: c.hashes(), Length: c.size, Servers: t.refused.servers(t.u.Servers)}
	cfg := t.g.swarmConfig(u, t.log.With("file", c.paths[0].Path))
	cfg.Dial = t.refused.dial
	// Patient: a tree's big files are fetched two at a time, and lanes
	// fetch small ones meanwhile, so a copy of a block still arriving
	// would take the link from other work for a tail no shorter; only a
	// stalled session's block is copied.
	cfg.PatientEndgame = true
	d := swarm.New(cfg)
	t.mu.Lock()
	t.swarms[d] = c.size
	t.mu.Unlock()
	// The state's path goes through the file system, not the Root:
	// openTreeDir checked that .rtpget and its parts folder are real
	// folders.
	state := filepath.Join(t.name, partsDir, partName+".state")
	res, err := d.Run(ctx, f, state, nil)
	t.mu.Lock()
	delete(t.swarms, d)
	if res != nil {
		var dup int64
		for _, s := range res.Servers {
			t.servers[s.Server] += s.Bytes
			dup += s.Dup
		}
		t.log.Debug("big file", "file", c.paths[0].Path, "bytes", c.size, "fetched", res.Fetched, "duplicate", dup, "seconds", res.Seconds)
	}
	if err == nil {
		t.bigDone += c.size
	}
	t.mu.Unlock()
	switch {
	case errors.Is(err, swarm.ErrMismatch):
		t.dir.parts.Remove(partName + ".state")
		t.dir.parts.Remove(partName)
		return err
	case ctx.Err() != nil:
		return errInterrupted
	case err != nil:
		return fmt.Errorf("%w; kept for resuming", err)
	}
	if err := f.Truncate(c.size); err != nil {
		return err
	}
	if err := f.Chmod(partMode(c.paths[0].Exec)); err != nil {
		return err
	}
	if err := t.dir.parts.Rename(partName, c.part); err != nil {
		return err
	}
	t.dir.parts.Remove(partName + ".state")
	return nil
}

// reusePart reports whether the parts folder holds c's whole part
// already, with c's hashes: a run before fetched it and could not place it
// (a file of the user's at its path, a full disk), or stopped between the
// two. It is hashed again before it is trusted; one that does not match is
// removed.
func (t *treeFetch) reusePart(ctx context.Context, c *content) bool {
	f, err := t.dir.parts.OpenFile(c.part, os.O_RDONLY|noFollow, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() || fi.Size() != c.size {
		return false
	}
	kinds := []urn.Kind{urn.BLAKE3}
	if t.sha() {
		kinds = append(kinds, urn.SHA256)
	}
	sums, err := urn.HashReader(ctxReader{ctx, f}, nil, kinds...)
	if err != nil || sums.BLAKE3 != c.blake3 || t.sha() && sums.SHA256 != c.sha256 {
		if ctx.Err() == nil {
			t.dir.parts.Remove(c.part)
		}
		return false
	}
	t.log.Info("kept from a run before", "file", c.paths[0].Path, "bytes", c.size)
	return true
}

// deleteOthers removes, under the target, every file and link the manifest
// does not name (selected or not), and the folders left empty that no
// manifest path is under. rtpget's folder is never touched, and nothing is
// followed: a link is removed as a link.
func (t *treeFetch) deleteOthers() error {
	files := map[string]bool{}
	dirs := map[string]bool{}
	for _, e := range t.manifest.Entries {
		files[e.Path] = true
		for d := path.Dir(e.Path); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	var walk func(dir string) error
	walk = func(dir string) error {
		f, err := t.dir.root.Open(dir)
		if err != nil {
			return err
		}
		ents, err := f.ReadDir(-1)
		f.Close()
		if err != nil {
			return err
		}
		for _, de := range ents {
			p := path.Join(dir, de.Name())
			if dir == "." {
				p = de.Name()
			}
			switch {
			case p == stateDir:
			case de.Type()&fs.ModeSymlink == 0 && de.IsDir():
				if err := walk(p); err != nil {
					return err
				}
				if !dirs[p] {
					t.dir.root.Remove(p) // only if now empty
				}
			case !files[p]:
				if err := t.dir.root.Remove(p); err != nil {
					return err
				}
				t.log.Info("deleted", "file", p)
				t.sum.Deleted++
			}
		}
		return nil
	}
	err := walk(".")
	t.dir.forget()
	return err
}

// cleanParts removes what is left in the parts folder after a complete
// run: downloads of contents no longer wanted.
func (t *treeFetch) cleanParts() {
	f, err := t.dir.parts.Open(".")
	if err != nil {
		return
	}
	names, _ := f.Readdirnames(-1)
	f.Close()
	for _, n := range names {
		t.dir.parts.Remove(n)
	}
}

// verifiedBytes is a small content received and verified, to be written.
type verifiedBytes struct {
	c *content
	b []byte
}

// treeWriters is how many goroutines create and write small files.
const treeWriters = 4

// startWriters starts the writers of t.writes; the returned function closes
// it and waits for them.
func (t *treeFetch) startWriters(pl chan<- placement) (wait func()) {
	t.writes = make(chan verifiedBytes, 32)
	var wg sync.WaitGroup
	for range treeWriters {
		wg.Go(func() {
			for v := range t.writes {
				err := t.dir.writeBytes(v.c.part, v.c.paths[0].Exec, v.b)
				putBuf(v.b)
				if err != nil {
					t.failContent(v.c, err)
					continue
				}
				t.count(func(s *treeSummary) { s.Fetched++ })
				t.ready(v.c, pl)
			}
		})
	}
	return func() {
		close(t.writes)
		wg.Wait()
	}
}
