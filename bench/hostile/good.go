package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rtp-project/rtp/client"
	"github.com/rtp-project/rtp/rtpurl"
)

// goodResult is how the well-behaved download went.
type goodResult struct {
	Bytes   int64
	Elapsed time.Duration
	HashOK  bool
	Err     error
}

// MBps is the download's throughput in MB/s.
func (g goodResult) MBps() float64 {
	if g.Elapsed <= 0 {
		return 0
	}
	return mb(g.Bytes) / g.Elapsed.Seconds()
}

// chunk is a READ's destination.
type chunk struct {
	p []byte
	n int
}

func (c *chunk) Write(b []byte) (int, error) {
	if len(b) > len(c.p)-c.n {
		return 0, io.ErrShortBuffer
	}
	c.n += copy(c.p[c.n:], b)
	return len(b), nil
}

// download fetches the whole file named by its sha256 over one session,
// window READs of readSize bytes in flight, and checks the hash. A READ
// that brings nothing for stall fails the download.
func download(ctx context.Context, d rtpurl.Dial, sum string, size int64, window int, readSize int, stall time.Duration) goodResult {
	start := time.Now()
	res := goodResult{}
	res.Err = func() error {
		s, err := client.Dial(ctx, d, nil)
		if err != nil {
			return err
		}
		defer s.Close()
		octx, cancel := context.WithTimeout(ctx, stall)
		tok, err := s.Open(octx, "urn:sha256:"+sum)
		cancel()
		if err != nil {
			return fmt.Errorf("open: %w", err)
		}
		h := sha256.New()
		type slot struct {
			call *client.Call
			dst  *chunk
		}
		ring := make([]slot, window)
		for i := range ring {
			ring[i].dst = &chunk{p: make([]byte, readSize)}
		}
		var issued, done int64 // offsets of the next READ to send and to hash
		issue := func(sl *slot) {
			n := min(int64(readSize), size-issued)
			sl.dst.n = 0
			sl.call = s.StartRead(tok, uint64(issued), uint64(n), sl.dst)
			issued += n
		}
		for i := 0; i < window && issued < size; i++ {
			issue(&ring[i])
		}
		for i := 0; done < size; i = (i + 1) % window {
			sl := &ring[i]
			wctx, cancel := context.WithTimeout(ctx, stall)
			err := sl.call.Wait(wctx)
			cancel()
			if err != nil {
				return fmt.Errorf("READ at %d: %w", sl.call.Offset, err)
			}
			// rtpd may send less than asked; fetch the rest before going on.
			for want := int(sl.call.Length); sl.dst.n < want; {
				rctx, cancel := context.WithTimeout(ctx, stall)
				n, err := s.ReadAt(rctx, tok, sl.dst.p[sl.dst.n:want], sl.call.Offset+uint64(sl.dst.n))
				cancel()
				if err != nil || n == 0 {
					return fmt.Errorf("READ at %d: %d bytes, %v", sl.call.Offset+uint64(sl.dst.n), n, err)
				}
				sl.dst.n += n
			}
			h.Write(sl.dst.p[:sl.dst.n])
			done += int64(sl.dst.n)
			res.Bytes = done
			if issued < size {
				issue(sl)
			}
		}
		res.HashOK = hex.EncodeToString(h.Sum(nil)) == sum
		if !res.HashOK {
			return fmt.Errorf("sha256 of the %d bytes received is not %s", done, sum)
		}
		return nil
	}()
	res.Elapsed = time.Since(start)
	return res
}

// freshOpen checks that rtpd still takes a new session: it OPENs the file
// and READs its first 4 KiB, which must match path's.
func freshOpen(ctx context.Context, d rtpurl.Dial, sum, path string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	start := time.Now()
	s, err := client.Dial(ctx, d, nil)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	tok, err := s.Open(ctx, "urn:sha256:"+sum)
	if err != nil {
		return 0, fmt.Errorf("open: %w", err)
	}
	got := make([]byte, 4<<10)
	n, err := s.ReadAt(ctx, tok, got, 0)
	if err != nil {
		return 0, fmt.Errorf("read: %w", err)
	}
	took := time.Since(start)
	want := make([]byte, len(got))
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	m, _ := io.ReadFull(f, want)
	if !bytes.Equal(got[:n], want[:m]) {
		return 0, fmt.Errorf("first %d bytes differ from the file's", n)
	}
	return took, nil
}
