package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"lukechampine.com/blake3"

	"github.com/rtp-project/rtp/swarm"
	"github.com/rtp-project/rtp/urn"
)

// contentKey names a content: a manifest may list the same bytes at
// several paths.
type contentKey struct {
	b3, sha [32]byte
	size    int64
}

func keyOf(e treeFile) contentKey { return contentKey{e.BLAKE3, e.SHA256, e.Size} }

// run places every selected file of the manifest in the target.
func (t *treeFetch) run(ctx context.Context) error {
	t.start = time.Now()
	t.servers = map[string]int64{}
	t.swarms = map[*swarm.Download]int64{}
	m := t.manifest
	t.sum.Tree, t.sum.Manifest = t.name, t.u.Hashes[0].String()
	t.sum.Files, t.sum.Bytes = len(m.Entries), m.Bytes
	t.sum.Verified = []string{"blake3"}
	if t.sha() {
		t.sum.Verified = append(t.sum.Verified, "sha256")
	}
	var sel []treeFile
	for _, e := range m.Entries {
		switch {
		case e.Path == stateDir || strings.HasPrefix(e.Path, stateDir+"/"):
			t.sum.Selected++
			t.failFile(e.Path, fmt.Errorf("%s is rtpget's own folder in the target", stateDir))
		case !t.g.filter.selected(e.Path):
			t.sum.Skipped++
		default:
			t.sum.Selected++
			t.sum.SelectedBytes += e.Size
			sel = append(sel, e)
		}
	}
	dir, err := openTreeDir(t.name)
	if err != nil {
		return t.finish(err)
	}
	defer dir.Close()
	t.dir = dir
	dir.force = t.g.c.Bool(flagForce)
	t.st = dir.loadState()

	need, have := t.inventory(ctx, sel)
	if ctx.Err() != nil {
		return t.finish(errInterrupted)
	}
	// Group what is needed by content; a content some path of the tree
	// already holds is copied from there.
	byKey := map[contentKey]*content{}
	var local, empty, small, big []*content
	for _, e := range need {
		k := keyOf(e)
		c := byKey[k]
		if c == nil {
			c = &content{size: e.Size, blake3: e.BLAKE3, sha256: e.SHA256, part: urn.New(urn.BLAKE3, e.BLAKE3).Hex()}
			byKey[k] = c
			switch _, ok := have[k]; {
			case ok:
				local = append(local, c)
			case e.Size == 0:
				empty = append(empty, c)
			case e.Size <= smallMax:
				small = append(small, c)
			default:
				big = append(big, c)
			}
		}
		c.paths = append(c.paths, e)
	}
	t.log.Debug("inventory done", "need", len(need), "local", len(local), "small", len(small), "big", len(big), "seconds", time.Since(t.start).Seconds())
	pl := t.startPlacer()
	stop := t.showProgress(small, big)

	var wg sync.WaitGroup
	wg.Go(func() {
		for _, c := range local {
			if err := dir.copyIn(have[keyOf(c.paths[0])], c.part, c.paths[0].Exec, c.blake3); err != nil {
				t.failContent(c, err)
				continue
			}
			t.count(func(s *treeSummary) { s.Copied++ })
			t.ready(c, pl)
		}
		for _, c := range empty {
			if blake3.Sum256(nil) != c.blake3 || sha256.Sum256(nil) != c.sha256 {
				t.failContent(c, errors.New("the manifest gives it 0 bytes but not the hashes of 0 bytes"))
				continue
			}
			if err := dir.writePart(c.part, c.paths[0].Exec, func(*os.File) error { return nil }); err != nil {
				t.failContent(c, err)
				continue
			}
			t.ready(c, pl)
		}
	})
	t.lanes = t.newLanes(pl)
	waitWriters := t.startWriters(pl)
	wg.Go(func() {
		t.lanes.run(ctx, small)
		waitWriters()
		t.log.Debug("small files done", "files", len(small), "seconds", time.Since(t.start).Seconds())
	})
	bigs := make(chan *content)
	for range bigJobs {
		wg.Go(func() {
			for c := range bigs {
				if err := t.fetchBig(ctx, c); err != nil {
					t.failContent(c, err)
					continue
				}
				t.count(func(s *treeSummary) { s.Fetched++ })
				t.ready(c, pl)
			}
		})
	}
	for _, c := range big {
		if ctx.Err() != nil {
			t.failContent(c, errInterrupted)
			continue
		}
		bigs <- c
	}
	close(bigs)
	wg.Wait()
	stop()
	close(pl)
	<-t.placed
	t.log.Debug("placed", "seconds", time.Since(t.start).Seconds())
	if err := dir.saveState(t.st); err != nil {
		return t.finish(err)
	}
	if ctx.Err() != nil {
		return t.finish(errInterrupted)
	}
	if t.sum.Failed == 0 {
		if t.g.c.Bool(flagDelete) {
			if err := t.deleteOthers(); err != nil {
				return t.finish(err)
			}
		}
		t.cleanParts()
	}
	return t.finish(nil)
}

func (t *treeFetch) sha() bool { return t.g.verify == swarm.VerifyAll }

func (t *treeFetch) count(f func(*treeSummary)) {
	t.mu.Lock()
	f(&t.sum)
	t.mu.Unlock()
}

// inventory sorts the selected files into those to fetch and those already
// there. A file at its path is trusted without reading when the state
// recorded it with the same size, mtime, inode and ctime; else it is hashed
// again. have maps each content present to one path holding it.
//
// A file that holds other bytes is replaced only if rtpget placed it and
// nobody changed it since (an older version of the tree, known by its
// record), or with --force: a file of the user's own at a path of the tree
// is kept, and that path fails, as a single download refuses to replace
// another file at its output name.
func (t *treeFetch) inventory(ctx context.Context, sel []treeFile) (need []treeFile, have map[contentKey]string) {
	have = map[contentKey]string{}
	var check []treeFile
	for _, e := range sel {
		fi, err := t.dir.lookFinal(e.Path)
		if err != nil {
			t.failFile(e.Path, err)
			continue
		}
		if fi == nil {
			need = append(need, e)
			continue
		}
		rec := t.st.Files[e.Path]
		switch {
		case rec != nil && rec.matches(fi) && rec.holds(e) && rec.Exec == e.Exec:
			t.present(e, have)
		case rec != nil && rec.matches(fi) && !rec.holds(e):
			need = append(need, e) // an older version, known by its record
			t.dir.replace[e.Path] = true
		case fi.Size() != e.Size:
			t.replaceOther(e, fi, &need)
		default:
			check = append(check, e)
		}
	}
	// Hash the unknown ones, two at a time.
	var mu sync.Mutex
	var wg sync.WaitGroup
	next := make(chan int)
	for range 2 {
		wg.Go(func() {
			for i := range next {
				e := check[i]
				ok, err := t.hashMatches(ctx, e)
				mu.Lock()
				switch {
				case err != nil && ctx.Err() == nil:
					t.failFile(e.Path, err)
				case ok:
					if fi, err := t.dir.root.Lstat(e.Path); err == nil && t.fixMode(e, fi) == nil {
						fi, _ = t.dir.root.Lstat(e.Path)
						t.st.Files[e.Path] = record(fi, e)
					}
					t.present(e, have)
				case err == nil:
					if fi, err := t.dir.root.Lstat(e.Path); err != nil {
						t.failFile(e.Path, err)
					} else {
						t.replaceOther(e, fi, &need)
					}
				}
				mu.Unlock()
			}
		})
	}
	for i := range check {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	return need, have
}

// replaceOther handles a file at e's path that holds other bytes and that
// rtpget did not place as it is now: with --force it is fetched over,
// else kept and e fails.
func (t *treeFetch) replaceOther(e treeFile, fi os.FileInfo, need *[]treeFile) {
	if t.g.c.Bool(flagForce) {
		*need = append(*need, e)
		t.dir.replace[e.Path] = true
		return
	}
	t.failFile(e.Path, fmt.Errorf("exists and is another file (%d bytes, not this tree's %d-byte file, and not one rtpget placed): not replaced; --force replaces it, -o writes elsewhere", fi.Size(), e.Size))
}

func (t *treeFetch) present(e treeFile, have map[contentKey]string) {
	t.sum.Present++
	t.sum.PresentBytes += e.Size
	if _, ok := have[keyOf(e)]; !ok {
		have[keyOf(e)] = e.Path
	}
}

// fixMode gives a present file the manifest's mode, x or not: it sets
// execute where the file is readable, or clears it, and changes nothing
// else, so a file the user keeps private stays private.
func (t *treeFetch) fixMode(e treeFile, fi os.FileInfo) error {
	perm := fi.Mode().Perm()
	if exec := perm&0o100 != 0; exec == e.Exec {
		return nil
	}
	if e.Exec {
		perm |= (perm & 0o444) >> 2
	} else {
		perm &^= 0o111
	}
	return t.dir.root.Chmod(e.Path, perm)
}

// hashMatches hashes the file at e.Path and compares.
func (t *treeFetch) hashMatches(ctx context.Context, e treeFile) (bool, error) {
	f, err := t.dir.root.OpenFile(e.Path, os.O_RDONLY|noFollow, 0)
	if err != nil {
		return false, err
	}
	defer f.Close()
	kinds := []urn.Kind{urn.BLAKE3}
	if t.sha() {
		kinds = append(kinds, urn.SHA256)
	}
	sums, err := urn.HashReader(ctxReader{ctx, f}, nil, kinds...)
	if err != nil {
		return false, err
	}
	return sums.N == e.Size && sums.BLAKE3 == e.BLAKE3 && (!t.sha() || sums.SHA256 == e.SHA256), nil
}

// ready hands a verified content, in partsDir under c.part, to the placer;
// each path beyond the first gets a copy of its own first.
func (t *treeFetch) ready(c *content, pl chan<- placement) {
	var out []placement
	for i, f := range c.paths[1:] {
		part := c.part + "." + strconv.Itoa(i+1)
		if err := t.dir.copyPart(c.part, part, f.Exec); err != nil {
			t.failFile(f.Path, err)
			continue
		}
		t.count(func(s *treeSummary) { s.Copied++ })
		out = append(out, placement{part: part, file: f, copy: true})
	}
	pl <- placement{part: c.part, file: c.paths[0]}
	for _, p := range out {
		pl <- p
	}
}

// placement is a verified part and the path it goes to.
type placement struct {
	part string
	file treeFile
	copy bool // a copy of a content's part for a second path, made again if it is not placed
}
