package main

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
)

// fileRec is a file in the served folder, as the writer left it.
type fileRec struct {
	path    string
	lin     *lineage
	busy    bool      // an operation on it is under way
	stable  bool      // the writer never touches it again
	touched time.Time // when the last operation on it ended
}

// history is everything a path ever held: the sha256 of each state, with
// the seed of the stream it is a prefix of, and every seed. A state is
// recorded before its bytes are written.
type history struct {
	sums  map[[32]byte][16]byte
	seeds [][16]byte
}

// book is the writer's record, shared with the clients and the stability
// checker.
type book struct {
	mu    sync.Mutex
	files map[string]*fileRec
	hist  map[string]*history
	gone  map[string]time.Time // paths that stopped existing, and when
	total int64                // bytes in the folder
	peak  int64
	trail map[string][]string // the last operations on each path, for failure messages
}

func newBook() *book {
	return &book{files: make(map[string]*fileRec), hist: make(map[string]*history), gone: make(map[string]time.Time),
		trail: make(map[string][]string)}
}

// record notes that path will hold content of lineage l with sha256 sum.
func (b *book) record(path string, l *lineage, sum [32]byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	h := b.hist[path]
	if h == nil {
		h = &history{sums: make(map[[32]byte][16]byte)}
		b.hist[path] = h
	}
	h.sums[sum] = l.seed
	if len(h.seeds) == 0 || h.seeds[len(h.seeds)-1] != l.seed {
		h.seeds = append(h.seeds, l.seed)
	}
}

// held reports whether path ever held (or is about to hold) content with
// sha256 sum.
func (b *book) held(path string, sum [32]byte) bool {
	_, ok := b.seedOf(path, sum)
	return ok
}

// seedOf returns the seed of the stream whose prefix path held with
// sha256 sum.
func (b *book) seedOf(path string, sum [32]byte) ([16]byte, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if h := b.hist[path]; h != nil {
		seed, ok := h.sums[sum]
		return seed, ok
	}
	return [16]byte{}, false
}

// heldPrefix reports whether the first n bytes of a content path held hash
// to sum: a state between two writes of one chunk, which rtpd may catch if
// the writer is held up mid-write. It costs n bytes of hashing per seed.
func (b *book) heldPrefix(path string, n int64, sum [32]byte) bool {
	b.mu.Lock()
	var seeds [][16]byte
	if h := b.hist[path]; h != nil {
		seeds = append(seeds, h.seeds...)
	}
	b.mu.Unlock()
	for _, s := range seeds {
		if prefixSum(s, n) == sum {
			return true
		}
	}
	return false
}

// claim marks a random idle, non-stable file that ok accepts as busy and
// returns it, or nil.
func (b *book) claim(r *rand.Rand, ok func(*fileRec) bool) *fileRec {
	b.mu.Lock()
	defer b.mu.Unlock()
	var c []*fileRec
	for _, f := range b.files {
		if !f.busy && !f.stable && (ok == nil || ok(f)) {
			c = append(c, f)
		}
	}
	if len(c) == 0 {
		return nil
	}
	f := c[r.IntN(len(c))]
	f.busy = true
	return f
}

// release ends an operation on f.
func (b *book) release(f *fileRec) {
	b.mu.Lock()
	f.busy = false
	f.touched = time.Now()
	b.mu.Unlock()
}

// add puts a new busy file at path.
func (b *book) add(f *fileRec) {
	b.mu.Lock()
	b.files[f.path] = f
	delete(b.gone, f.path)
	b.mu.Unlock()
}

// remove drops path: it is gone from now.
func (b *book) remove(path string) {
	b.mu.Lock()
	if f := b.files[path]; f != nil {
		b.total -= f.lin.size
		delete(b.files, path)
	}
	b.gone[path] = time.Now()
	b.mu.Unlock()
}

// grow counts n more bytes in the folder (n < 0 for fewer).
func (b *book) grow(n int64) {
	b.mu.Lock()
	b.total += n
	b.peak = max(b.peak, b.total)
	b.mu.Unlock()
}

func (b *book) size() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.total
}

// view is a file as the stability checker sees it.
type view struct {
	size    int64
	sum     [32]byte
	touched time.Time
	busy    bool
	stable  bool
}

// views returns every file now in the folder, and the paths gone from it.
func (b *book) views() (map[string]view, map[string]time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	vs := make(map[string]view, len(b.files))
	for p, f := range b.files {
		v := view{touched: f.touched, busy: f.busy, stable: f.stable}
		if !f.busy { // the writer changes a busy file's lineage without the lock
			v.size, v.sum = f.lin.size, f.lin.sum()
		}
		vs[p] = v
	}
	gone := make(map[string]time.Time, len(b.gone))
	for p, t := range b.gone {
		gone[p] = t
	}
	return vs, gone
}

// pick returns a random path: mostly one in the folder, now and then one
// that is gone.
func (b *book) pick(r *rand.Rand) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.gone) > 0 && (r.IntN(10) == 0 || len(b.files) == 0) {
		for p := range b.gone {
			return p
		}
	}
	if len(b.files) == 0 {
		return ""
	}
	i := r.IntN(len(b.files))
	for p := range b.files {
		if i == 0 {
			return p
		}
		i--
	}
	return ""
}

// note adds an operation to path's trail.
func (b *book) note(path, format string, a ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.noteLocked(path, format, a...)
}

func (b *book) noteLocked(path, format string, a ...any) {
	t := b.trail[path]
	b.trail[path] = append(t[max(0, len(t)-7):], time.Now().Format("15:04:05.000 ")+fmt.Sprintf(format, a...))
}

// trailOf returns path's last operations, one a line.
func (b *book) trailOf(path string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.trail[path], "\n")
}

// move renames f (busy) to dst, replacing over (busy, at dst) if not nil,
// and ends the operation.
func (b *book) move(f *fileRec, dst string, over *fileRec) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if over != nil {
		b.total -= over.lin.size
	}
	delete(b.files, f.path)
	b.gone[f.path] = now
	b.noteLocked(f.path, "renamed to %q", dst)
	b.trail[dst] = append([]string(nil), b.trail[f.path]...)
	b.noteLocked(dst, "renamed from %q, %d bytes, sha256 %x", f.path, f.lin.size, f.lin.sum())
	f.path = dst
	b.files[dst] = f
	delete(b.gone, dst)
	f.busy, f.touched = false, now
}
