package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// clientStats counts the clients' downloads.
type clientStats struct {
	exact, changed, wrong     atomic.Int64
	viaGemini, viaPage        atomic.Int64
	resolveMiss, prefixStates atomic.Int64
	bytes                     atomic.Int64
	largest                   atomic.Int64
	unchangedOK               atomic.Int64
}

// client downloads files from rtpd while the writer changes them, until ctx
// is done: it asks for a file's rtp: URL by its Gemini name (rtpget
// --resolve) or takes it from the HTTP face's page, checks that the hash
// rtpd names is one the file held, runs rtpget on it and checks the bytes.
func (s *soak) client(ctx context.Context, id int) {
	r := rand.New(rand.NewPCG(uint64(id), 99))
	dir := filepath.Join(s.tmp, fmt.Sprintf("client-%d", id))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		s.fail("client: " + err.Error())
		return
	}
	for n := 0; ctx.Err() == nil; n++ {
		var path, raw string
		before, _ := s.book.views()
		if n%2 == 0 {
			path = s.book.pick(r)
			if path == "" {
				sleep(ctx, time.Second)
				continue
			}
			var err error
			if raw, err = s.resolve(ctx, path); err != nil {
				s.cl.resolveMiss.Add(1) // being hashed, or gone: fine
				sleep(ctx, 100*time.Millisecond)
				continue
			}
			s.cl.viaGemini.Add(1)
		} else {
			lst, err := listing(ctx, s.httpAddr)
			if err != nil {
				if ctx.Err() == nil {
					s.failNet(ctx, "client: HTTP face's page: "+err.Error())
				}
				continue
			}
			if len(lst) == 0 {
				sleep(ctx, time.Second)
				continue
			}
			i := r.IntN(len(lst))
			for p, e := range lst {
				if i--; i < 0 {
					path, raw = p, e.url
					break
				}
			}
			s.cl.viaPage.Add(1)
		}
		u, want, err := sha256Of(raw)
		if err != nil {
			s.fail(fmt.Sprintf("client: rtpd handed out a bad rtp: URL for %q: %v", path, err))
			continue
		}
		if !s.book.held(path, want) {
			if !s.book.heldPrefix(path, u.Length, want) {
				s.fail(fmt.Sprintf("client: rtpd names %q by sha256 %x (%d bytes), content it never held; the writer's last operations on it:\n%s",
					path, want, u.Length, indent(s.book.trailOf(path))))
				continue
			}
			s.cl.prefixStates.Add(1)
		}
		f := s.download(ctx, dir, raw, u.Length)
		after, _ := s.book.views()
		b, a := before[path], after[path]
		_, inBefore := before[path]
		_, inAfter := after[path]
		changed := !inBefore || !inAfter || b.busy || a.busy || a.touched != b.touched || a.sum != want
		switch o, why := judge(ctx, f, want, u.Length, changed); o {
		case gotExact:
			s.cl.exact.Add(1)
			s.cl.bytes.Add(f.size)
			for {
				old := s.cl.largest.Load()
				if f.size <= old || s.cl.largest.CompareAndSwap(old, f.size) {
					break
				}
			}
			if !changed {
				s.cl.unchangedOK.Add(1)
			}
		case gotChanged:
			s.cl.changed.Add(1)
		case gotWrong:
			s.cl.wrong.Add(1)
			s.fail(fmt.Sprintf("client: %q (%d bytes, %x): %s", path, u.Length, want, why))
		}
	}
}
