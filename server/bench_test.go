package server_test

import (
	"context"
	"fmt"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/rtp-project/rtp/client"
	"github.com/rtp-project/rtp/server"
)

// BenchmarkReadDisk: one TCP session reading a 64 MiB file from the disk
// store in pipelined 1 MiB READs, 8 in flight.
func BenchmarkReadDisk(b *testing.B) {
	data := random(64 << 20)
	f := newFixture(b, server.Config{}, map[string][]byte{"a": data})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	s, err := client.Dial(ctx, f.dials["tcp"], nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	tok, err := s.Open(ctx, sha(data))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(1 << 20)
	defer reportCPU(b)()
	var window []*client.Call
	for i := range b.N {
		off := uint64(i%64) << 20
		window = append(window, s.StartRead(tok, off, 1<<20, io.Discard))
		if len(window) == 8 {
			if err := window[0].Wait(ctx); err != nil {
				b.Fatal(err)
			}
			window = window[1:]
		}
	}
	for _, c := range window {
		if err := c.Wait(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSmallFilesDisk: sessions that each OPEN and READ 512 files of
// 4 KiB from the disk store, all pipelined; one op is one file.
func BenchmarkSmallFilesDisk(b *testing.B) {
	const n = 512
	files := map[string][]byte{}
	var uris []string
	for i := range n {
		d := random(4 << 10)
		files[fmt.Sprint(i)] = d
		uris = append(uris, sha(d))
	}
	f := newFixture(b, server.Config{}, files)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	defer reportCPU(b)()
	for done := 0; done < b.N; {
		s, err := client.Dial(ctx, f.dials["tcp"], nil)
		if err != nil {
			b.Fatal(err)
		}
		var calls []*client.Call
		for i := 0; i < n && done < b.N; i++ {
			o := s.StartOpen(uris[i])
			calls = append(calls, o, s.StartRead(o.Token, 0, 4<<10, io.Discard))
			done++
		}
		for _, c := range calls {
			if err := c.Wait(ctx); err != nil {
				b.Fatal(err)
			}
		}
		s.Close()
	}
}

// reportCPU resets the timer and returns a function that reports the
// process's CPU time (user and system, client and server together) per op:
// on a machine shared with other work it varies less than the wall time.
func reportCPU(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	b.ResetTimer()
	start := cpu()
	return func() {
		b.StopTimer()
		b.ReportMetric(float64(cpu()-start)/float64(b.N), "cpu-ns/op")
	}
}
