package edge

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/swarm"
)

// BenchmarkEightClientsOneFill: 8 clients open one blob an edge lacks, at
// once, over loopback. It reports the bytes the origin sent per byte of
// the blob, the time to the first payload byte written by any client, and
// the time until all 8 have the blob (each checked exact).
// RTP_EDGE_BENCH_MIB sets the size (default 256).
func BenchmarkEightClientsOneFill(b *testing.B) {
	mib := 256
	if v, err := strconv.Atoi(os.Getenv("RTP_EDGE_BENCH_MIB")); err == nil && v > 0 {
		mib = v
	}
	size := mib << 20
	data := randomBytes(9, size)
	h := b3Of(data)
	for range b.N {
		b.StopTimer()
		o := newOrigin(b, map[string][]byte{"blob": data}, nil)
		_, dial := newEdge(b, b.TempDir(), 1<<40, o.dial)
		b.StartTimer()
		start := time.Now()
		var once sync.Once
		firstc := make(chan struct{})
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for k := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := download(b, h, []rtpurl.Dial{dial}, func(out swarm.Output) swarm.Output {
					return firstWrite{out, &once, firstc}
				})
				if err == nil && !bytes.Equal(got, data) {
					err = errors.New("wrong bytes")
				}
				errs[k] = err
			}()
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		first := time.Duration(-1)
		select {
		case <-firstc:
			first = time.Since(start)
			<-done
		case <-done:
		}
		all := time.Since(start)
		b.StopTimer()
		for k, err := range errs {
			if err != nil {
				b.Fatalf("client %d: %v", k, err)
			}
		}
		b.ReportMetric(float64(o.sent.Load())/float64(size), "origin-bytes/blob-byte")
		b.ReportMetric(first.Seconds(), "s-to-first-byte")
		b.ReportMetric(all.Seconds(), "s-all-8-exact")
		b.StartTimer()
	}
}
