// Command load drives many concurrent sessions against a real rtpd: each
// session OPENs files as it needs them and READs random slices of them, one
// at a time, checking every byte. It reports requests and bytes per second,
// latency percentiles, errors, and rtpd's RSS over the run. From the module
// root:
//
//	go run ./bench/load                          # 1,000 sessions, 100 files, 64 KiB slices, 60 s
//	go run ./bench/load -sessions 200 -duration 10s
//
// It exits 1 when a READ failed or returned wrong bytes, or rtpd's RSS went
// over -max-rss-mib. rtpd allows 256 sessions per remote address by
// default, so the sessions connect from several loopback addresses
// (127.0.0.1, 127.0.0.2, ...), as clients on many hosts would.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rtp-project/rtp/bench/internal/proc"
	"github.com/rtp-project/rtp/client"
	"github.com/rtp-project/rtp/urn"
	"github.com/rtp-project/rtp/wire"
)

var (
	flagSessions = flag.Int("sessions", 1000, "concurrent sessions")
	flagFiles    = flag.Int("files", 100, "files served")
	flagFileSize = flag.Int64("file-size", 4<<20, "bytes per file")
	flagSlice    = flag.Int("slice", 64<<10, "bytes per READ")
	flagDuration = flag.Duration("duration", 60*time.Second, "how long the load lasts once every session is connected")
	flagPerAddr  = flag.Int("per-addr", 200, "sessions per loopback source address (rtpd allows 256 per address)")
	flagMaxRSS   = flag.Int64("max-rss-mib", 300, "rtpd's RSS must stay below this many MiB")
	flagEvery    = flag.Duration("every", 10*time.Second, "report interval")
	flagOpenAll  = flag.Bool("open-all", true, "each session OPENs every file before the load starts, so rtpd holds its most tokens from the first report on (otherwise sessions OPEN files as they first need them)")
	flagVerbose  = flag.Bool("v", false, "copy rtpd's log to stderr")
)

func main() {
	flag.Parse()
	if *flagSessions < 1 || *flagFiles < 1 || *flagSlice < 1 || *flagFileSize < int64(*flagSlice) || *flagPerAddr < 1 || *flagDuration <= 0 || *flagEvery <= 0 {
		fmt.Fprintln(os.Stderr, "load: -sessions, -files, -slice, -per-addr, -duration and -every must be positive, -file-size at least -slice")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ok, err := run(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(1)
	}
}

// word is the 8 bytes at offset 8*i of file f: anyone can check a slice
// without reading the file.
func word(f int, i int64) uint64 {
	z := uint64(f)<<40 ^ uint64(i) + 0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

func fill(p []byte, f int, off int64) {
	for i := 0; i < len(p); i += 8 {
		binary.LittleEndian.PutUint64(p[i:], word(f, (off+int64(i))/8))
	}
}

// writeFiles writes the files and returns their sha256 urns.
func writeFiles(dir string) ([]string, error) {
	uris := make([]string, *flagFiles)
	buf := make([]byte, 1<<20)
	for f := range uris {
		fh, err := os.Create(filepath.Join(dir, fmt.Sprintf("f%03d.bin", f)))
		if err != nil {
			return nil, err
		}
		h := sha256.New()
		w := io.MultiWriter(fh, h)
		for off := int64(0); off < *flagFileSize; off += int64(len(buf)) {
			p := buf[:min(int64(len(buf)), *flagFileSize-off)]
			fill(buf, f, off) // whole words; p may end mid-word
			if _, err := w.Write(p); err != nil {
				fh.Close()
				return nil, err
			}
		}
		if err := fh.Close(); err != nil {
			return nil, err
		}
		uris[f] = urn.New(urn.SHA256, [32]byte(h.Sum(nil))).String()
	}
	return uris, nil
}

// stats are shared by all sessions.
type stats struct {
	reads, bytes, opens atomic.Int64
	readErrs, openErrs  atomic.Int64
	wrong, sessionErrs  atomic.Int64

	mu        sync.Mutex
	latencies []time.Duration // of READs
	firstErr  error
}

func (s *stats) fail(counter *atomic.Int64, err error) {
	counter.Add(1)
	s.mu.Lock()
	if s.firstErr == nil {
		s.firstErr = err
	}
	s.mu.Unlock()
}

// session runs one client session until ctx ends.
func session(ctx context.Context, sess *client.Session, uris []string, toks []*wire.Token, st *stats, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x10ad))
	buf := make([]byte, *flagSlice)
	want := make([]byte, (*flagSlice+15)/8*8)
	var lat []time.Duration
	defer func() {
		st.mu.Lock()
		st.latencies = append(st.latencies, lat...)
		st.mu.Unlock()
	}()
	for ctx.Err() == nil {
		f := rng.IntN(len(uris))
		if toks[f] == nil {
			tok, err := sess.Open(ctx, uris[f])
			if ctx.Err() != nil {
				return
			}
			st.opens.Add(1)
			if err != nil {
				st.fail(&st.openErrs, fmt.Errorf("OPEN %s: %w", uris[f], err))
				if sess.Err() != nil {
					st.fail(&st.sessionErrs, sess.Err())
					return
				}
				continue
			}
			toks[f] = &tok
		}
		off := rng.Int64N(*flagFileSize - int64(len(buf)) + 1)
		t0 := time.Now()
		n, err := sess.ReadAt(ctx, *toks[f], buf, uint64(off))
		if ctx.Err() != nil {
			return
		}
		lat = append(lat, time.Since(t0))
		st.reads.Add(1)
		st.bytes.Add(int64(n))
		switch {
		case err != nil:
			st.fail(&st.readErrs, fmt.Errorf("READ %d at %d: %w", len(buf), off, err))
			if sess.Err() != nil {
				st.fail(&st.sessionErrs, sess.Err())
				return
			}
		case n != len(buf):
			st.fail(&st.wrong, fmt.Errorf("READ %d at %d: %d bytes", len(buf), off, n))
		default:
			start := off &^ 7
			fill(want, f, start)
			if string(buf) != string(want[off-start:][:n]) {
				st.fail(&st.wrong, fmt.Errorf("READ %d at %d of file %d: wrong bytes", len(buf), off, f))
			}
		}
	}
}

// openAll OPENs every file on every session, pipelined on each.
func openAll(ctx context.Context, sessions []*client.Session, uris []string, toks [][]*wire.Token) error {
	for i, s := range sessions {
		calls := make([]*client.Call, len(uris))
		for f, u := range uris {
			calls[f] = s.StartOpen(u)
		}
		for f, c := range calls {
			if err := c.Wait(ctx); err != nil {
				return fmt.Errorf("session %d: OPEN %s: %w", i, uris[f], err)
			}
			toks[i][f] = &c.Token
		}
	}
	return nil
}

func dial(ctx context.Context, addr string, i int) (*client.Session, error) {
	src := net.IPv4(127, 0, 0, byte(1 + i / *flagPerAddr))
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: src}, Timeout: 10 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return client.NewSession(c, nil), nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func run(ctx context.Context) (bool, error) {
	if n := (*flagSessions + *flagPerAddr - 1) / *flagPerAddr; n > 254 {
		return false, fmt.Errorf("%d sessions need %d source addresses; raise -per-addr", *flagSessions, n)
	}
	tmp, err := os.MkdirTemp("", "rtp-load-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(tmp)
	bin, err := proc.BuildRTPD(ctx, tmp, os.Stderr)
	if err != nil {
		return false, err
	}
	dir := filepath.Join(tmp, "blobs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return false, err
	}
	uris, err := writeFiles(dir)
	if err != nil {
		return false, err
	}
	var verbose io.Writer
	if *flagVerbose {
		verbose = os.Stderr
	}
	d, err := proc.StartRTPD(ctx, bin, dir, verbose)
	if err != nil {
		return false, err
	}
	defer d.Kill()
	addr := d.Dial.Address()
	fmt.Printf("rtpd pid %d on %s: %d files of %d bytes; %d sessions from %d loopback addresses, %d-byte READs, one at a time each, for %v\n",
		d.Pid(), d.Dial, *flagFiles, *flagFileSize, *flagSessions, (*flagSessions+*flagPerAddr-1) / *flagPerAddr, *flagSlice, *flagDuration)

	var sessions []*client.Session
	defer func() {
		for _, s := range sessions {
			s.Close()
		}
	}()
	t0 := time.Now()
	for i := range *flagSessions {
		s, err := dial(ctx, addr, i)
		if err != nil {
			return false, fmt.Errorf("session %d: %w", i, err)
		}
		sessions = append(sessions, s)
	}
	rss0, err := proc.Status(d.Pid(), "VmRSS")
	if err != nil {
		return false, err
	}
	fmt.Printf("%d sessions connected in %v; rtpd RSS %.1f MiB\n", len(sessions), time.Since(t0).Round(time.Millisecond), mib(rss0["VmRSS"]))
	toks := make([][]*wire.Token, len(sessions))
	for i := range toks {
		toks[i] = make([]*wire.Token, len(uris))
	}
	if *flagOpenAll {
		t0 = time.Now()
		if err := openAll(ctx, sessions, uris, toks); err != nil {
			return false, err
		}
		rss, _ := proc.Status(d.Pid(), "VmRSS")
		fmt.Printf("%d OPENs (every file on every session) in %v; rtpd RSS %.1f MiB\n", len(sessions)*len(uris), time.Since(t0).Round(time.Millisecond), mib(rss["VmRSS"]))
	}

	var sampler proc.RSSSampler
	lctx, cancel := context.WithTimeout(ctx, *flagDuration)
	defer cancel()
	sampled := make(chan struct{})
	go func() { sampler.Run(lctx, d.Pid(), 100*time.Millisecond); close(sampled) }()
	st := &stats{}
	var wg sync.WaitGroup
	start := time.Now()
	for i, s := range sessions {
		wg.Add(1)
		go func() { defer wg.Done(); session(lctx, s, uris, toks[i], st, uint64(i)) }()
	}
	var rssStart, rssEnd int64
	tick := time.NewTicker(*flagEvery)
	var lastReads, lastBytes int64
	last := start
	for done := false; !done; {
		select {
		case <-lctx.Done():
			done = true
		case <-tick.C:
		}
		now := time.Now()
		reads, bytes := st.reads.Load(), st.bytes.Load()
		secs := now.Sub(last).Seconds()
		rss, _ := proc.Status(d.Pid(), "VmRSS")
		if rssStart == 0 {
			rssStart = rss["VmRSS"]
		}
		rssEnd = rss["VmRSS"]
		errs := st.readErrs.Load() + st.openErrs.Load() + st.wrong.Load()
		fmt.Printf("t=%4.0fs  %7.0f READs/s  %7.1f MB/s  errors %d  rtpd RSS %.1f MiB\n",
			now.Sub(start).Seconds(), float64(reads-lastReads)/secs, float64(bytes-lastBytes)/secs/1e6, errs, mib(rssEnd))
		lastReads, lastBytes, last = reads, bytes, now
	}
	tick.Stop()
	wg.Wait()
	elapsed := time.Since(start)
	<-sampled

	lat := st.latencies
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	reads, bytes := st.reads.Load(), st.bytes.Load()
	fmt.Printf("READs: %d in %.1fs = %.0f/s, %.1f MB/s; OPENs: %d\n", reads, elapsed.Seconds(), float64(reads)/elapsed.Seconds(), float64(bytes)/elapsed.Seconds()/1e6, st.opens.Load())
	fmt.Printf("READ latency: p50 %v  p90 %v  p99 %v  p99.9 %v  max %v\n",
		pct(0.50).Round(time.Microsecond), pct(0.90).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), pct(0.999).Round(time.Microsecond), pct(1).Round(time.Microsecond))
	fmt.Printf("errors: READ %d, wrong or short bytes %d, OPEN %d, sessions lost %d\n", st.readErrs.Load(), st.wrong.Load(), st.openErrs.Load(), st.sessionErrs.Load())
	if st.firstErr != nil {
		fmt.Printf("first error: %v\n", st.firstErr)
	}
	hwm, _ := proc.Status(d.Pid(), "VmHWM")
	fmt.Printf("rtpd RSS: %.1f MiB at the first report, %.1f MiB at the end, peak %.1f MiB (sampled every 100 ms), VmHWM %.1f MiB; most open descriptors %d; limit %d MiB\n",
		mib(rssStart), mib(rssEnd), mib(sampler.Peak), mib(hwm["VmHWM"]), sampler.MaxFDs, *flagMaxRSS)

	var fails []string
	if n := st.readErrs.Load() + st.wrong.Load() + st.openErrs.Load() + st.sessionErrs.Load(); n > 0 {
		fails = append(fails, fmt.Sprintf("%d errors", n))
	}
	if reads == 0 {
		fails = append(fails, "no READ completed")
	}
	if peak := max(sampler.Peak, rssEnd); peak >= *flagMaxRSS<<20 {
		fails = append(fails, fmt.Sprintf("rtpd RSS peaked at %.1f MiB", mib(peak)))
	}
	if !d.Alive() {
		fails = append(fails, fmt.Sprintf("rtpd died: %v", d.ExitErr()))
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		fails = append(fails, "interrupted")
	}
	if len(fails) > 0 {
		fmt.Printf("FAIL: %v\n", fails)
		return false, nil
	}
	fmt.Println("PASS")
	return true, nil
}
