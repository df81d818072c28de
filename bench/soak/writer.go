package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"sync/atomic"
	"time"
)

// dirs are the folders the writer puts files in, "" for the top.
var dirs = []string{"", "sub", "sub/deep", "other"}

// writerStats counts the writer's operations.
type writerStats struct {
	create, createLarge, append, truncate, truncateZero atomic.Int64
	rename, renameReplace, delete, overwrite, rest      atomic.Int64
	written                                             atomic.Int64 // bytes
}

// writer changes the served folder at random, as people and programs do:
// it creates files (0 bytes to maxSize), appends to them slowly, truncates,
// renames (into other folders, sometimes over another file), deletes,
// overwrites in place with the same size, and leaves some alone for good.
type writer struct {
	dir      string // the served folder
	maxSize  int64
	maxTotal int64
	book     *book
	stats    *writerStats
	names    atomic.Int64
	fail     func(string)
}

// seed fills the folder before rtpd starts: a few files of every size
// class, half of them never touched again.
func (w *writer) seed(ctx context.Context) error {
	for _, d := range dirs[1:] {
		if err := os.MkdirAll(filepath.Join(w.dir, d), 0o755); err != nil {
			return err
		}
	}
	sizes := []int64{0, 1, 1000, 64 << 10, 1<<20 + 3, 10 << 20, 100 << 20, 200 << 20}
	r := rand.New(rand.NewPCG(1, 2))
	for i, n := range sizes {
		if n > w.maxSize || w.book.size()+n > w.maxTotal/2 {
			continue
		}
		if _, err := w.create(ctx, r, n, i%2 == 0, false); err != nil {
			return err
		}
	}
	return nil
}

// run changes the folder until ctx is done.
func (w *writer) run(ctx context.Context, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 7))
	type op struct {
		weight int
		do     func() error
	}
	ops := []op{
		{22, func() error { _, err := w.create(ctx, r, w.pickSize(r), r.IntN(100) < 15, true); return err }},
		{18, func() error { return w.appendTo(ctx, r) }},
		{10, func() error { return w.truncate(r) }},
		{10, func() error { return w.rename(r) }},
		{10, func() error { return w.remove(r) }},
		{10, func() error { return w.overwrite(r) }},
		{20, func() error { w.stats.rest.Add(1); return sleep(ctx, time.Duration(500+r.IntN(1500))*time.Millisecond) }},
	}
	total := 0
	for _, o := range ops {
		total += o.weight
	}
	for ctx.Err() == nil {
		x := r.IntN(total)
		for _, o := range ops {
			if x -= o.weight; x < 0 {
				if err := o.do(); err != nil && ctx.Err() == nil {
					w.fail("writer: " + err.Error())
				}
				break
			}
		}
		sleep(ctx, time.Duration(20+r.IntN(200))*time.Millisecond)
	}
}

// pickSize: mostly small and medium files, a few large, now and then up
// to maxSize.
func (w *writer) pickSize(r *rand.Rand) int64 {
	var n int64
	switch x := r.IntN(100); {
	case x < 5:
		n = 0
	case x < 50:
		n = r.Int64N(64 << 10)
	case x < 85:
		n = 64<<10 + r.Int64N(16<<20)
	case x < 97:
		n = 16<<20 + r.Int64N(112<<20)
	default:
		n = 128<<20 + r.Int64N(max(1, w.maxSize-128<<20))
	}
	return min(n, w.maxSize)
}

// room makes room for n more bytes by deleting files, and reserves them;
// it returns how many it reserved (fewer when it cannot delete enough).
func (w *writer) room(r *rand.Rand, n int64) int64 {
	for w.book.size()+n > w.maxTotal {
		f := w.book.claim(r, nil)
		if f == nil {
			break
		}
		if err := os.Remove(filepath.Join(w.dir, f.path)); err != nil {
			w.book.release(f)
			break
		}
		w.book.remove(f.path)
		w.stats.delete.Add(1)
	}
	n = max(0, min(n, w.maxTotal-w.book.size()))
	w.book.grow(n)
	return n
}

func (w *writer) newPath(r *rand.Rand) string {
	name := fmt.Sprintf("f%05d.bin", w.names.Add(1))
	if r.IntN(10) == 0 {
		name = fmt.Sprintf("f%05d v2.bin", w.names.Add(1))
	}
	return path.Join(dirs[r.IntN(len(dirs))], name)
}

// create writes a new file of n bytes, slowly when slow is set.
func (w *writer) create(ctx context.Context, r *rand.Rand, n int64, stable, slow bool) (*fileRec, error) {
	n = w.room(r, n)
	var seed [16]byte
	for i := range seed {
		seed[i] = byte(r.Uint32())
	}
	f := &fileRec{path: w.newPath(r), lin: newLineage(seed), busy: true, stable: stable}
	w.book.record(f.path, f.lin, f.lin.sum())
	w.book.add(f)
	defer w.book.release(f)
	fh, err := os.OpenFile(filepath.Join(w.dir, f.path), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		w.book.grow(-n)
		w.book.remove(f.path)
		return nil, err
	}
	w.stats.create.Add(1)
	if n >= 128<<20 {
		w.stats.createLarge.Add(1)
	}
	err = w.write(ctx, r, fh, f, n, slow)
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	w.book.note(f.path, "created, %d bytes, sha256 %x", f.lin.size, f.lin.sum())
	return f, err
}

// write appends n bytes of f's stream to fh, in chunks, pausing between
// them when slow is set (about 100 MB/s at most, with a stall now and
// then, as a copy from a busy disk or the network goes). It records each
// state before writing it. n bytes were reserved: what is not written is
// given back.
func (w *writer) write(ctx context.Context, r *rand.Rand, fh *os.File, f *fileRec, n int64, slow bool) error {
	buf := make([]byte, chunk)
	for n > 0 {
		if ctx.Err() != nil {
			w.book.grow(-n)
			return nil
		}
		p, sum := f.lin.next(buf, n)
		w.book.record(f.path, f.lin, sum)
		if _, err := fh.WriteAt(p, f.lin.size-int64(len(p))); err != nil {
			w.book.grow(-n)
			return err
		}
		n -= int64(len(p))
		w.stats.written.Add(int64(len(p)))
		if slow {
			pause := time.Duration(5+r.IntN(10)) * time.Millisecond
			if r.IntN(50) == 0 {
				pause = time.Duration(100+r.IntN(200)) * time.Millisecond
			}
			sleep(ctx, pause)
		}
	}
	return nil
}

func (w *writer) appendTo(ctx context.Context, r *rand.Rand) error {
	f := w.book.claim(r, nil)
	if f == nil {
		return nil
	}
	defer w.book.release(f)
	n := w.room(r, min(w.pickSize(r), w.maxSize-f.lin.size))
	fh, err := os.OpenFile(filepath.Join(w.dir, f.path), os.O_WRONLY, 0)
	if err != nil {
		w.book.grow(-n)
		return err
	}
	w.stats.append.Add(1)
	w.book.note(f.path, "appending %d bytes to %d", n, f.lin.size)
	err = w.write(ctx, r, fh, f, n, true)
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	w.book.note(f.path, "appended, %d bytes, sha256 %x", f.lin.size, f.lin.sum())
	return err
}

// truncate cuts a file shorter, to zero a third of the time.
func (w *writer) truncate(r *rand.Rand) error {
	f := w.book.claim(r, func(f *fileRec) bool { return f.lin.size > 0 })
	if f == nil {
		return nil
	}
	defer w.book.release(f)
	old, n := f.lin.size, int64(0)
	if r.IntN(3) > 0 {
		n = r.Int64N(old)
	}
	w.book.record(f.path, f.lin, f.lin.truncate(n))
	if err := os.Truncate(filepath.Join(w.dir, f.path), n); err != nil {
		return err
	}
	w.book.grow(n - old)
	w.book.note(f.path, "truncated from %d to %d bytes, sha256 %x", old, n, f.lin.sum())
	w.stats.truncate.Add(1)
	if n == 0 {
		w.stats.truncateZero.Add(1)
	}
	return nil
}

// rename moves a file to a new name, often in another folder; one time in
// four over an existing file, as editors and rsync replace files.
func (w *writer) rename(r *rand.Rand) error {
	f := w.book.claim(r, nil)
	if f == nil {
		return nil
	}
	var over *fileRec
	if r.IntN(4) == 0 {
		over = w.book.claim(r, nil)
	}
	dst := w.newPath(r)
	if over != nil {
		dst = over.path
	}
	w.book.record(dst, f.lin, f.lin.sum())
	if err := os.Rename(filepath.Join(w.dir, f.path), filepath.Join(w.dir, dst)); err != nil {
		w.book.release(f)
		if over != nil {
			w.book.release(over)
		}
		return err
	}
	w.book.move(f, dst, over)
	w.stats.rename.Add(1)
	if over != nil {
		w.stats.renameReplace.Add(1)
	}
	return nil
}

func (w *writer) remove(r *rand.Rand) error {
	f := w.book.claim(r, nil)
	if f == nil {
		return nil
	}
	if err := os.Remove(filepath.Join(w.dir, f.path)); err != nil {
		w.book.release(f)
		return err
	}
	w.book.remove(f.path)
	w.book.note(f.path, "deleted")
	w.stats.delete.Add(1)
	return nil
}

// overwrite writes new content over a file of at most 32 MiB, same size,
// in one write.
func (w *writer) overwrite(r *rand.Rand) error {
	f := w.book.claim(r, func(f *fileRec) bool { return f.lin.size > 0 && f.lin.size <= 32<<20 })
	if f == nil {
		return nil
	}
	defer w.book.release(f)
	var seed [16]byte
	for i := range seed {
		seed[i] = byte(r.Uint32())
	}
	lin := newLineage(seed)
	content := make([]byte, 0, f.lin.size)
	buf := make([]byte, chunk)
	var sum [32]byte
	for lin.size < f.lin.size {
		var p []byte
		p, sum = lin.next(buf, f.lin.size-lin.size)
		content = append(content, p...)
	}
	w.book.record(f.path, lin, sum)
	fh, err := os.OpenFile(filepath.Join(w.dir, f.path), os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = fh.WriteAt(content, 0)
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	w.book.note(f.path, "overwritten in place (%d bytes, one write), sha256 %x", len(content), sum)
	f.lin = lin
	w.stats.overwrite.Add(1)
	w.stats.written.Add(int64(len(content)))
	return err
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
