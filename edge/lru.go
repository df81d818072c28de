package edge

import "encoding/hex"

// Eviction. Whole blobs are evicted least recently used first while the
// blobs held plus the fills under way (their full lengths, reserved when
// each fill learns its length) exceed MaxBytes. A blob open for reading is
// skipped, and a fill is never evicted, so the cache's bytes stay within
// MaxBytes plus the blobs being read or filled at the time.

// evictLocked evicts until the cache fits or nothing more may go; e.mu is
// held.
func (e *Edge) evictLocked() {
	for el := e.lru.Back(); el != nil && e.total+e.reserved > e.cfg.MaxBytes; {
		en := el.Value.(*entry)
		el = el.Prev()
		if en.users > 0 {
			continue
		}
		e.log.Debug("evicting", "blake3", hex.EncodeToString(en.b3[:]), "bytes", en.size)
		e.dropLocked(en)
		e.met.evictions.Add(1)
		e.met.evictedBytes.Add(uint64(en.size))
	}
}

// dropLocked removes en from the cache, its entry and its files.
func (e *Edge) dropLocked(en *entry) {
	if e.blobs[en.b3] != en {
		return
	}
	delete(e.blobs, en.b3)
	if e.bySHA[en.sha] == en.b3 {
		delete(e.bySHA, en.sha)
	}
	e.lru.Remove(en.elem)
	e.total -= en.size
	e.forget(en.b3)
}

// reserve counts n bytes of a fill under way against the cache size,
// evicting to make room.
func (e *Edge) reserve(n int64) {
	e.mu.Lock()
	e.reserved += n
	e.evictLocked()
	e.mu.Unlock()
}

// addLocked makes en a whole blob of the cache, in use by en.users blobs,
// most recently used, and gives back the fill's reservation of its bytes.
// It returns the cache's entry: en, or the one already there.
func (e *Edge) addLocked(en *entry, reserved int64) *entry {
	e.reserved -= reserved
	if old, ok := e.blobs[en.b3]; ok {
		// Filled twice (by blake3 and by sha256 at once): keep the first.
		old.users += en.users
		e.evictLocked()
		return old
	}
	en.elem = e.lru.PushFront(en)
	e.blobs[en.b3] = en
	e.bySHA[en.sha] = en.b3
	e.total += en.size
	e.evictLocked()
	return en
}
