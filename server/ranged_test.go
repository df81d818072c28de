package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/rtp-project/rtp/client"
	"github.com/rtp-project/rtp/server"
	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/urn"
	"github.com/rtp-project/rtp/wire"
)

// A blob that implements store.RangeReader gets one ReadRange per READ
// with a payload, for exactly the READ's range, and no ReadAt, however
// many 256 KiB chunks the server writes the payload in.
func TestRangeReaderOneCallPerRead(t *testing.T) {
	data := random(3<<20 + 12345)
	log := &rangeLog{}
	f := newWrappedFixture(t, server.Config{}, map[string][]byte{"a": data}, func(d *store.Disk) store.Opener {
		hs := newHookedStore(d)
		hs.ranges = log
		return hs
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, proto := range []string{"tcp", "tls", "quic"} {
		log.mu.Lock()
		log.calls = nil
		log.mu.Unlock()
		s, err := client.Dial(ctx, f.dials[proto], f.opts)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		open := s.StartOpen(sha(data))
		type read struct{ off, n uint64 }
		reads := []read{{0, 1 << 20}, {1 << 20, 1 << 20}, {2 << 20, 1 << 20}, {3 << 20, 1 << 20}, {100, 5000}, {uint64(len(data)), 10}, {7, 0}}
		var calls []*client.Call
		var bufs []*bytes.Buffer
		for _, r := range reads {
			b := new(bytes.Buffer)
			bufs = append(bufs, b)
			calls = append(calls, s.StartRead(open.Token, r.off, r.n, b))
		}
		if err := open.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		var want [][2]int64
		for i, r := range reads {
			if err := calls[i].Wait(ctx); err != nil {
				t.Fatalf("%s: READ %d: %v", proto, i, err)
			}
			end := min(r.off+r.n, uint64(len(data)))
			if !bytes.Equal(bufs[i].Bytes(), data[r.off:end]) {
				t.Fatalf("%s: READ %d at %d: %d bytes, want %d equal ones", proto, i, r.off, bufs[i].Len(), end-r.off)
			}
			if end > r.off {
				want = append(want, [2]int64{int64(r.off), int64(end - r.off)})
			}
		}
		log.mu.Lock()
		got := slices.Clone(log.calls)
		log.mu.Unlock()
		slices.SortFunc(got, func(a, b [2]int64) int { return int(a[0] - b[0]) })
		slices.SortFunc(want, func(a, b [2]int64) int { return int(a[0] - b[0]) })
		if !slices.Equal(got, want) {
			t.Errorf("%s: ReadRange calls %v, want one per READ with a payload: %v", proto, got, want)
		}
	}
	if n := log.readAts.Load(); n != 0 {
		t.Errorf("the server called ReadAt %d times on a RangeReader", n)
	}
}

// timeout is an error that says it is a timeout, as net.Error does.
type timeout struct{}

func (timeout) Error() string { return "i/o timeout" }
func (timeout) Timeout() bool { return true }

// Store errors reach the client by kind: a hash the store does not hold
// (or no longer holds as hashed) is "not found", which clients drop the
// server for; a store that cannot answer now (store.Retryable) is "error:
// temporarily unavailable", which they retry; any other failure is
// "error: cannot open" (OPEN) or "error: read failed" (READ). A READ
// pipelined behind a failed OPEN gets the OPEN's answer.
func TestStoreErrorKinds(t *testing.T) {
	data := random(40 << 10)
	cases := []struct {
		name          string
		err           error
		open, read    *wire.Error
		permanentToRT bool // client.IsPermanent of the answer
	}{
		{"unavailable", store.Unavailable(errors.New("backend down")), server.ErrUnavailable, server.ErrUnavailable, false},
		{"deadline", fmt.Errorf("get: %w", context.DeadlineExceeded), server.ErrUnavailable, server.ErrUnavailable, false},
		{"timeout", fmt.Errorf("get: %w", timeout{}), server.ErrUnavailable, server.ErrUnavailable, false},
		{"os deadline", fmt.Errorf("read: %w", os.ErrDeadlineExceeded), server.ErrUnavailable, server.ErrUnavailable, false},
		{"not found", fmt.Errorf("get: %w", fs.ErrNotExist), wire.ErrNotFound, wire.ErrNotFound, true},
		{"changed", fmt.Errorf("get: %w", store.ErrChanged), wire.ErrNotFound, wire.ErrNotFound, true},
		{"not found beats unavailable", store.Unavailable(fs.ErrNotExist), wire.ErrNotFound, wire.ErrNotFound, true},
		{"other", errors.New("permission denied"),
			&wire.Error{Kind: wire.KindError, Text: "cannot open"}, &wire.Error{Kind: wire.KindError, Text: "read failed"}, false},
	}
	var hs *hookedStore
	log := &rangeLog{}
	var hashes []urn.Hash
	files := map[string][]byte{"a": data}
	f := newWrappedFixture(t, server.Config{}, files, func(d *store.Disk) store.Opener {
		hs = newHookedStore(d)
		hs.ranges = log
		for i, c := range cases {
			h := urn.New(urn.BLAKE3, [32]byte{byte(i + 1)})
			hashes = append(hashes, h)
			hs.fail[h] = c.err
		}
		return hs
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := client.Dial(ctx, f.dials["tcp"], f.opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tok, err := s.Open(ctx, sha(data))
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		open := s.StartOpen(hashes[i].String())
		behind := s.StartRead(open.Token, 0, 10, new(bytes.Buffer))
		if err := open.Wait(ctx); !errors.Is(err, c.open) || err.Error() != c.open.Error() {
			t.Errorf("%s: OPEN answered %v, want %v", c.name, err, c.open)
		} else if client.IsPermanent(err) != c.permanentToRT {
			t.Errorf("%s: OPEN answer %v: client.IsPermanent = %v", c.name, err, !c.permanentToRT)
		}
		if err := behind.Wait(ctx); err == nil || err.Error() != c.open.Error() {
			t.Errorf("%s: READ behind the OPEN answered %v, want the OPEN's %v", c.name, err, c.open)
		}

		log.mu.Lock()
		log.fail = c.err
		log.mu.Unlock()
		_, err := s.ReadAt(ctx, tok, make([]byte, 10), 0)
		if !errors.Is(err, c.read) || err.Error() != c.read.Error() && c.read != wire.ErrNotFound {
			t.Errorf("%s: READ answered %v, want %v", c.name, err, c.read)
		}
	}
	// The session is still good.
	log.mu.Lock()
	log.fail = nil
	log.mu.Unlock()
	got, err := readAll(ctx, s, tok)
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("after the failures: %d bytes, %v", len(got), err)
	}
}
