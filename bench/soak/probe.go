package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/rtp-project/rtp/client"
)

// probeStats counts the prober's requests.
type probeStats struct {
	opens, openRefused    atomic.Int64
	reads, readRefused    atomic.Int64
	bytes, wrong, skipped atomic.Int64
}

// probe checks every READ on its own, below rtpget: it takes a file from
// the HTTP face's page, OPENs it by sha256 over RTP/1 and READs random
// slices of it slowly, so that the writer changes some files under it.
// Each payload must be exactly the bytes of the content that has that hash
// (made again from the writer's seed); once the file has changed rtpd must
// refuse, never send the new bytes.
func (s *soak) probe(ctx context.Context, id int) {
	r := rand.New(rand.NewPCG(5, uint64(id)))
	buf, exp := make([]byte, 256<<10), make([]byte, 256<<10)
	for ctx.Err() == nil {
		lst, err := listing(ctx, s.httpAddr)
		if err != nil {
			if ctx.Err() == nil {
				s.failNet(ctx, "probe: HTTP face's page: "+err.Error())
			}
			continue
		}
		// Mostly files the writer may still change: those are the test.
		files, _ := s.book.views()
		var paths []string
		for p := range lst {
			if f, ok := files[p]; r.IntN(5) == 0 || ok && !f.stable {
				paths = append(paths, p)
			}
		}
		var path string
		var e listed
		if len(paths) > 0 {
			path = paths[r.IntN(len(paths))]
			e = lst[path]
		}
		seed, ok := s.book.seedOf(path, e.sha256)
		if path == "" || e.size == 0 || !ok {
			// Nothing to read, or a hash the clients' checks judge.
			s.pr.skipped.Add(1)
			sleep(ctx, 200*time.Millisecond)
			continue
		}
		s.probeFile(ctx, r, path, e, seed, buf, exp)
	}
}

// onDisk says whether p is what the file at path holds at off now.
func (s *soak) onDisk(path string, p []byte, off int64) string {
	f, err := os.Open(filepath.Join(s.tmp, "served", path))
	if err != nil {
		return "the file is gone now"
	}
	defer f.Close()
	now := make([]byte, len(p))
	n, _ := f.ReadAt(now, off)
	if n == len(p) && bytes.Equal(now, p) {
		return "they are the bytes the file holds now"
	}
	return "they are not the bytes the file holds now either"
}

func (s *soak) probeFile(ctx context.Context, r *rand.Rand, path string, e listed, seed [16]byte, buf, exp []byte) {
	sess, err := client.Dial(ctx, s.dial, nil)
	if err != nil {
		if ctx.Err() == nil {
			s.failNet(ctx, "probe: dial rtpd: "+err.Error())
		}
		return
	}
	defer sess.Close()
	before, _ := s.book.views()
	// refused judges an error: fine if the file changed (or went) since
	// before, or holds other content than the hash names.
	refused := func(what string, err error) {
		after, _ := s.book.views()
		b, inBefore := before[path]
		a, inAfter := after[path]
		if ctx.Err() == nil && inBefore && inAfter && !b.busy && !a.busy && a.touched == b.touched && a.sum == e.sha256 {
			s.pr.wrong.Add(1)
			s.fail(fmt.Sprintf("probe: %s of %q (%x) refused though the file did not change: %v", what, path, e.sha256, err))
		}
	}
	tok, err := sess.Open(ctx, "urn:sha256:"+hex.EncodeToString(e.sha256[:]))
	if err != nil {
		s.pr.openRefused.Add(1) // gone or changed since the page was made
		refused("OPEN", err)
		return
	}
	s.pr.opens.Add(1)
	st := newStream(seed)
	for range 1 + r.IntN(32) {
		off, asked := r.Int64N(e.size), 1+r.IntN(len(buf))
		sent := time.Now()
		n, err := sess.ReadAt(ctx, tok, buf[:asked], uint64(off))
		if err != nil {
			s.pr.readRefused.Add(1) // changed: refused, as it should be
			refused("READ", err)
			return
		}
		st.at(exp[:n], off)
		switch {
		case n < 1 || int64(n) > min(int64(asked), e.size-off):
			// A READ may give less than asked, but not nothing before the end.
			s.pr.wrong.Add(1)
			s.fail(fmt.Sprintf("probe: READ of %q (%x, %d bytes) at %d for %d returned %d bytes", path, e.sha256, e.size, off, asked, n))
			return
		case !bytes.Equal(buf[:n], exp[:n]):
			s.pr.wrong.Add(1)
			s.fail(fmt.Sprintf("probe: READ of %q (%x, %d bytes) at %d, sent %s, returned %d bytes that are not that content's (bytes of a changed file); %s; the writer's last operations on it:\n%s",
				path, e.sha256, e.size, off, sent.Format("15:04:05.000"), n, s.onDisk(path, buf[:n], off), indent(s.book.trailOf(path))))
			return
		}
		s.pr.reads.Add(1)
		s.pr.bytes.Add(int64(n))
		sleep(ctx, time.Duration(20+r.IntN(100))*time.Millisecond)
	}
}
