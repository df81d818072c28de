package server_test

import (
	"context"
	"io"
	"sync"
	"sync/atomic"

	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/urn"
)

// hookedStore is the disk store with hooks, standing in for a slow or
// failing backend: Open and OpenTree of a blocked hash wait for release to
// close or their context to end; a hash in fail gets that error instead of
// the disk's answer. It counts the calls under way.
type hookedStore struct {
	*store.Disk

	blockAll bool
	block    map[urn.Hash]bool
	fail     map[urn.Hash]error
	release  chan struct{}
	entered  chan urn.Hash // a blocked call has started (buffered; never blocks)
	ended    chan error    // a blocked call ended by its context, with ctx.Err()

	cur, most atomic.Int64
	ranges    *rangeLog // when set, blobs are rangedBlobs logging here

	hangRead map[urn.Hash]bool // ReadAt of these blobs waits for release
}

func newHookedStore(d *store.Disk) *hookedStore {
	return &hookedStore{
		Disk:    d,
		block:   map[urn.Hash]bool{},
		fail:    map[urn.Hash]error{},
		release: make(chan struct{}),
		entered: make(chan urn.Hash, 20000),
		ended:   make(chan error, 20000),
	}
}

func (s *hookedStore) Open(ctx context.Context, h urn.Hash) (store.Blob, error) {
	return s.hook(ctx, h, func() (store.Blob, error) { return s.Disk.Open(ctx, h) })
}

func (s *hookedStore) OpenTree(ctx context.Context, h urn.Hash) (store.Blob, error) {
	return s.hook(ctx, h, func() (store.Blob, error) { return s.Disk.OpenTree(ctx, h) })
}

func (s *hookedStore) hook(ctx context.Context, h urn.Hash, open func() (store.Blob, error)) (store.Blob, error) {
	n := s.cur.Add(1)
	defer s.cur.Add(-1)
	for m := s.most.Load(); n > m && !s.most.CompareAndSwap(m, n); m = s.most.Load() {
	}
	if s.blockAll || s.block[h] {
		s.entered <- h
		select {
		case <-s.release:
		case <-ctx.Done():
			s.ended <- ctx.Err()
			return nil, ctx.Err()
		}
	}
	if err := s.fail[h]; err != nil {
		return nil, err
	}
	b, err := open()
	if err == nil && s.hangRead[h] {
		return &hangingBlob{b, s}, nil
	}
	if err != nil || s.ranges == nil {
		return b, err
	}
	return &rangedBlob{Blob: b, log: s.ranges}, nil
}

// rangedBlob is a disk blob that also implements store.RangeReader, logging
// each call. Its ranges are read through the disk blob's ReadAt, which
// checks the file, so it serves no byte the disk blob would not.
type rangedBlob struct {
	store.Blob
	log *rangeLog
}

var _ store.RangeReader = (*rangedBlob)(nil)

type rangeLog struct {
	mu      sync.Mutex
	calls   [][2]int64 // off, n
	fail    error      // when set, ReadRange fails with it before calling fn
	readAts atomic.Int64
}

func (b *rangedBlob) ReadAt(p []byte, off int64) (int, error) {
	b.log.readAts.Add(1)
	return b.Blob.ReadAt(p, off)
}

func (b *rangedBlob) ReadRange(ctx context.Context, off, n int64, fn func(io.Reader) error) error {
	b.log.mu.Lock()
	b.log.calls = append(b.log.calls, [2]int64{off, n})
	err := b.log.fail
	b.log.mu.Unlock()
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return fn(io.NewSectionReader(b.Blob, off, n))
}

// hangingBlob is a disk blob whose ReadAt waits for its store's release
// first, as a read from a failing disk or a stalled network mount would.
type hangingBlob struct {
	store.Blob
	s *hookedStore
}

func (b *hangingBlob) ReadAt(p []byte, off int64) (int, error) {
	b.s.entered <- urn.Hash{}
	<-b.s.release
	return b.Blob.ReadAt(p, off)
}
