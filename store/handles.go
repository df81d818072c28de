package store

import (
	"os"
	"sync"
)

// handles shares one open file among all the blobs of one version of a
// file, so the descriptors rtpd holds are bounded by the files in use, not
// by the tokens clients open: a session may hold 1024 tokens by default, and
// thousands of sessions open the same few popular files. Blobs read with
// pread and sendfile at explicit offsets, so sharing a descriptor is safe.
type handles struct {
	mu   sync.Mutex
	open map[handleKey]*handle
}

// The stat is part of the key: a blob of a file's old version never
// shares a descriptor with its new one.
type handleKey struct {
	path string
	stat fileStat
}

type handle struct {
	f    *os.File
	refs int
}

// get returns e's open file, opening it with open if no blob holds it.
func (hs *handles) get(open func(rel string) (*os.File, error), e Entry) (*fileBlob, error) {
	k := handleKey{e.Path, e.stat}
	hs.mu.Lock()
	if h := hs.open[k]; h != nil {
		h.refs++
		hs.mu.Unlock()
		return &fileBlob{f: h.f, want: e.stat, release: hs.releaser(k)}, nil
	}
	hs.mu.Unlock()

	f, err := open(e.Path)
	if err != nil {
		return nil, err
	}
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if h := hs.open[k]; h != nil {
		// Another OPEN got there first.
		f.Close()
		h.refs++
		return &fileBlob{f: h.f, want: e.stat, release: hs.releaser(k)}, nil
	}
	if hs.open == nil {
		hs.open = make(map[handleKey]*handle)
	}
	hs.open[k] = &handle{f: f, refs: 1}
	return &fileBlob{f: f, want: e.stat, release: hs.releaser(k)}, nil
}

// releaser returns the function that drops one blob's hold on k's file,
// closing it with the last. It does so once, however often it is called.
func (hs *handles) releaser(k handleKey) func() error {
	var once sync.Once
	return func() error {
		var err error
		once.Do(func() {
			hs.mu.Lock()
			defer hs.mu.Unlock()
			h := hs.open[k]
			if h.refs--; h.refs == 0 {
				delete(hs.open, k)
				err = h.f.Close()
			}
		})
		return err
	}
}

// count returns the open descriptors, for tests.
func (hs *handles) count() int {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return len(hs.open)
}
