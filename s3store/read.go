package s3store

import (
	"bytes"
	"container/list"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/minio/minio-go/v7"

	"github.com/rtp-project/rtp/outboard"
	"github.com/rtp-project/rtp/store"
)

// READs are served from chunks: aligned ranges of Config.ChunkSize bytes
// of one version of an object (key and ETag), each fetched with one ranged
// GET conditional on that ETag (If-Match) and checked against the object's
// BLAKE3 tree before any READ sees it. Chunks are shared by every blob of
// that version and kept, least recently used first out, up to
// Config.CacheBytes. A READ fetches the chunks it covers; a blob read in
// order also starts the next Config.ReadAhead chunks, when a GET slot is
// free (Config.Parallel in all), so that a session's READs find their
// bytes already fetched.

// blob is one open object version.
type blob struct {
	s    *Store
	o    object
	tree *outboard.Tree // nil: unchecked (NoTrees)
	hi   atomic.Int64   // the furthest end of a READ so far: read-ahead follows it
}

func (s *Store) newBlob(o object) *blob {
	return &blob{s: s, o: o, tree: s.loadTree(o)}
}

func (b *blob) Size() int64  { return b.o.size }
func (b *blob) Close() error { return nil }

// ReadAt reads len(p) bytes at off, or up to the end with io.EOF.
func (b *blob) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("s3store: negative offset %d", off)
	}
	if off >= b.o.size {
		return 0, io.EOF
	}
	n := min(int64(len(p)), b.o.size-off)
	var got int
	err := b.ReadRange(context.Background(), off, n, func(r io.Reader) error {
		var err error
		got, err = io.ReadFull(r, p[:n])
		return err
	})
	if err == nil && int64(got) < int64(len(p)) {
		err = io.EOF
	}
	return got, err
}

// ReadRange calls fn with the n bytes at off once every chunk they span is
// fetched and checked; see store.RangeReader.
func (b *blob) ReadRange(ctx context.Context, off, n int64, fn func(io.Reader) error) error {
	if off < 0 || n <= 0 || off+n > b.o.size {
		return fmt.Errorf("s3store: range %d+%d of a %d-byte object", off, n, b.o.size)
	}
	cs := b.s.cfg.ChunkSize
	first, last := off/cs, (off+n-1)/cs
	// A READ near the furthest one so far (a session's READs in flight
	// come in any order) continues a read in order: fetch ahead of it.
	// A READ far from it (a client that seeks) fetches what it needs.
	prev := b.hi.Load()
	for off+n > prev && !b.hi.CompareAndSwap(prev, off+n) {
		prev = b.hi.Load()
	}
	ahead := int64(b.s.cfg.ReadAhead)
	inOrder := off == 0 || (prev > 0 && off <= prev+cs && off+n >= prev-(ahead+1)*cs)
	chunks := make([]*chunk, 0, last-first+1)
	for i := first; i <= last; i++ {
		chunks = append(chunks, b.s.chunk(b, i, true))
	}
	if inOrder {
		end := (b.o.size + cs - 1) / cs
		for i := last + 1; i <= last+ahead && i < end; i++ {
			b.s.chunk(b, i, false)
		}
	}
	defer func() {
		for _, c := range chunks {
			b.s.chunks.release(c)
		}
	}()
	readers := make([]io.Reader, 0, len(chunks))
	for i, c := range chunks {
		select {
		case <-c.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if c.err != nil {
			return c.err
		}
		lo, hi := int64(0), int64(len(c.data))
		if i == 0 {
			lo = off - first*cs
		}
		if i == len(chunks)-1 {
			hi = off + n - last*cs
		}
		readers = append(readers, bytes.NewReader(c.data[lo:hi]))
	}
	return fn(io.MultiReader(readers...))
}

// chunk is one fetched range of an object version.
type chunk struct {
	key  chunkKey
	done chan struct{} // closed when data or err is set
	data []byte
	buf  *[]byte // data's buffer, back to the pool when no READ holds it
	err  error
	elem *list.Element // in the cache's LRU list while cached
	refs int           // READs holding it; under chunkCache.mu
	gone bool          // out of the cache
}

type chunkKey struct {
	key, etag string
	i         int64
}

// chunkCache holds the chunks fetched or being fetched.
type chunkCache struct {
	mu    sync.Mutex
	m     map[chunkKey]*chunk
	lru   list.List // front: most recently used; of *chunk
	bytes int64     // of the chunks done and cached
	limit int64
	pool  sync.Pool // of *[]byte, ChunkSize each
}

// chunk returns chunk i of b's object, starting its fetch if it is not
// cached. A chunk asked for by a READ (need) waits for a GET slot; one read
// ahead is started only if a slot is free now, else it returns nil.
func (s *Store) chunk(b *blob, i int64, need bool) *chunk {
	k := chunkKey{b.o.key, b.o.etag, i}
	cc := &s.chunks
	cc.mu.Lock()
	if c := cc.m[k]; c != nil {
		cc.lru.MoveToFront(c.elem)
		if need {
			c.refs++
		}
		cc.mu.Unlock()
		return c
	}
	if !need {
		select {
		case s.gets <- struct{}{}:
		default:
			cc.mu.Unlock()
			return nil
		}
	}
	c := &chunk{key: k, done: make(chan struct{})}
	if need {
		c.refs++
	}
	if cc.m == nil {
		cc.m = make(map[chunkKey]*chunk)
	}
	cc.m[k] = c
	c.elem = cc.lru.PushFront(c)
	cc.mu.Unlock()
	go s.fetch(b, c, !need)
	return c
}

// fetch fills c with one ranged GET, holding a GET slot (already taken
// when slotTaken), and then caches it, or forgets it if it failed.
func (s *Store) fetch(b *blob, c *chunk, slotTaken bool) {
	if !slotTaken {
		select {
		case s.gets <- struct{}{}:
		case <-s.ctx.Done():
			s.finish(c, nil, 0, fmt.Errorf("s3store: closed: %w", context.Canceled))
			return
		}
	}
	buf, n, err := s.get(b, c.key.i)
	<-s.gets
	s.finish(c, buf, n, err)
}

// get reads chunk i of b's object, n bytes, into a buffer of the pool and
// checks it against the tree.
func (s *Store) get(b *blob, i int64) (buf *[]byte, n int64, err error) {
	cs := s.cfg.ChunkSize
	off := i * cs
	n = min(cs, b.o.size-off)
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.Timeout)
	defer cancel()
	what := fmt.Sprintf("get %s bytes %d-%d", s.loc.Prefix+b.o.key, off, off+n-1)
	opts := minio.GetObjectOptions{}
	opts.SetMatchETag(b.o.etag)
	if err := opts.SetRange(off, off+n-1); err != nil {
		return nil, 0, err
	}
	body, info, hdr, err := s.mc.GetObject(ctx, s.loc.Bucket, s.loc.Prefix+b.o.key, opts)
	err = classify(what, err)
	s.note(err)
	if err == nil {
		defer body.Close()
		// A server that ignored If-Match or Range must not pass either.
		cr := hdr.Get("Content-Range")
		switch {
		case info.ETag != "" && strings.Trim(info.ETag, `"`) != b.o.etag:
			err = fmt.Errorf("%s: answered with ETag %s: %w", what, info.ETag, store.ErrChanged)
		case cr == "" && (off != 0 || n != b.o.size):
			err = fmt.Errorf("%s: the server ignored the range", what)
		case cr != "" && !strings.HasPrefix(cr, fmt.Sprintf("bytes %d-%d/", off, off+n-1)):
			err = fmt.Errorf("%s: the server sent the range %q", what, cr)
		}
	}
	if err != nil {
		if store.Permanent(err) {
			s.dropStale(b.o.key, b.o.etag)
		}
		return nil, 0, err
	}
	buf = s.chunks.pool.Get().(*[]byte)
	if int64(cap(*buf)) < n {
		*buf = make([]byte, cs)
	}
	data := (*buf)[:n]
	if _, err := io.ReadFull(body, data); err != nil {
		s.chunks.pool.Put(buf)
		return nil, 0, classify(what, err)
	}
	if b.tree != nil {
		if err := b.tree.Check(off, data); err != nil {
			// Not the bytes that were hashed, whatever the ETag says.
			s.chunks.pool.Put(buf)
			s.log.Warn("an object's bytes do not match the tree built when it was indexed; dropped until indexed again", "key", s.loc.Prefix+b.o.key, "err", err)
			s.dropStale(b.o.key, b.o.etag)
			return nil, 0, fmt.Errorf("%s: %w: %w", what, store.ErrChanged, err)
		}
	}
	return buf, n, nil
}

// finish publishes c's outcome; a failed chunk leaves the cache, so the
// next READ asks again. Past the limit, the least recently used chunks
// that are done leave too.
func (s *Store) finish(c *chunk, buf *[]byte, n int64, err error) {
	cc := &s.chunks
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if err == nil {
		c.buf, c.data = buf, (*buf)[:n]
	}
	c.err = err
	close(c.done)
	if err != nil {
		cc.remove(c)
		return
	}
	cc.bytes += n
	for e := cc.lru.Back(); e != nil && cc.bytes > cc.limit; {
		old := e.Value.(*chunk)
		e = e.Prev()
		select {
		case <-old.done:
			cc.remove(old)
		default: // being fetched: not counted yet
		}
	}
}

// remove drops c from the cache; READs holding it still read its data,
// and the last of them gives its buffer back.
func (cc *chunkCache) remove(c *chunk) {
	if cc.m[c.key] != c {
		return
	}
	delete(cc.m, c.key)
	cc.lru.Remove(c.elem)
	c.gone = true
	if c.err == nil {
		cc.bytes -= int64(len(c.data))
	}
	cc.recycle(c)
}

// release drops a READ's hold on c.
func (cc *chunkCache) release(c *chunk) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	c.refs--
	cc.recycle(c)
}

// recycle puts the buffer of a chunk out of the cache and held by no READ
// back in the pool: fetching into a fresh chunk buffer costs a page fault
// per 4 KiB, which on a VM cost more than the hashing.
func (cc *chunkCache) recycle(c *chunk) {
	if c.gone && c.refs == 0 && c.buf != nil {
		cc.pool.Put(c.buf)
		c.buf, c.data = nil, nil
	}
}
