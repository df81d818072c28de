package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rtp-project/rtp/bench/internal/proc"
	"github.com/rtp-project/rtp/rtpurl"
)

// Config is one soak.
type Config struct {
	Duration time.Duration
	Rescan   time.Duration // rtpd's --rescan
	MaxWait  time.Duration // see -max-wait
	MaxSize  int64         // largest file
	MaxTotal int64         // bound on the served folder
	Writers  int
	Clients  int
	Bin      string   // holds rtpd and rtpget; "" builds them
	Log      string   // rtpd's whole log goes here; "" for nowhere
	Keep     bool     // keep the temp folder
	RTPDArgs []string // more rtpd serve flags
	Progress io.Writer
}

// errDisk means the disk has too little room for the soak.
var errDisk = errors.New("not enough free disk")

// soak is a running soak.
type soak struct {
	cfg                             Config
	tmp                             string
	rtpget                          string
	env                             []string    // rtpget's: HOME and XDG_CONFIG_HOME in tmp
	httpAddr, geminiAddr, metricsAt string      // host:port
	dial                            rtpurl.Dial // rtpd's RTP listener
	book                            *book
	wr                              *writerStats
	cl                              *clientStats
	pr                              *probeStats
	stab                            *stableStats
	clock                           *hashClock
	health                          struct{ ok, failed int } // /healthz answers, written by watch
	hwm                             atomic.Int64             // rtpd's VmHWM, last read
	dead                            atomic.Bool              // rtpd exited during the run

	failMu   sync.Mutex
	failures []string
	nfail    int
}

// fail records a failed check; the soak goes on, and exits 1 at the end.
func (s *soak) fail(msg string) {
	s.failMu.Lock()
	defer s.failMu.Unlock()
	s.nfail++
	if len(s.failures) < 50 {
		s.failures = append(s.failures, msg)
	}
	fmt.Fprintf(s.cfg.Progress, "soak: FAIL: %s\n", msg)
}

// failNet records a failed request to rtpd, unless rtpd turns out to have
// exited (that is reported once, by watch) or the soak is ending (a dial
// may time out a moment before its context says so).
func (s *soak) failNet(ctx context.Context, msg string) {
	sleep(ctx, time.Second)
	if ctx.Err() == nil && !s.dead.Load() {
		s.fail(msg)
	}
}

// Run runs the soak and returns its result; an error before rtpd is up
// comes back alone.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	tmp, err := os.MkdirTemp("", "rtp-soak-*")
	if err != nil {
		return nil, err
	}
	if cfg.Keep {
		fmt.Fprintln(cfg.Progress, "soak: keeping", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(tmp, &fs); err != nil {
		return nil, err
	}
	// The folder, a copy of the largest file per client, and 1 GiB spare.
	need := cfg.MaxTotal + int64(cfg.Clients+1)*cfg.MaxSize + 1<<30
	if free := int64(fs.Bavail) * fs.Bsize; free < need {
		return nil, fmt.Errorf("%w: %s has %d MiB, the soak needs %d MiB (lower -max-total or -max-size)", errDisk, tmp, free>>20, need>>20)
	}
	s := &soak{cfg: cfg, tmp: tmp, book: newBook(), wr: &writerStats{}, cl: &clientStats{}, pr: &probeStats{}, stab: newStableStats(), clock: &hashClock{}}
	s.env = append(os.Environ(), "HOME="+tmp, "XDG_CONFIG_HOME="+filepath.Join(tmp, "config"))
	rtpd, err := s.binaries(ctx)
	if err != nil {
		return nil, err
	}
	served := filepath.Join(tmp, "served")
	w := &writer{dir: served, maxSize: cfg.MaxSize, maxTotal: cfg.MaxTotal, book: s.book, stats: s.wr, fail: s.fail}
	if err := w.seed(ctx); err != nil {
		return nil, fmt.Errorf("seeding the folder: %w", err)
	}

	// From here on, bounded: the run, and five minutes to start and stop.
	ctx, cancelAll := context.WithTimeout(ctx, cfg.Duration+5*time.Minute)
	defer cancelAll()
	var full io.Writer
	if cfg.Log != "" {
		f, err := os.Create(cfg.Log)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		full = f
	}
	rlog := newRTPDLog(full)
	start := time.Now()
	args := append([]string{"--rescan", cfg.Rescan.String(), "--index", filepath.Join(tmp, "state", "index.db"),
		"--metrics", "tcp!127.0.0.1!0", "--http", "tcp!127.0.0.1!0", "--gemini", "tcp!127.0.0.1!0",
		// The book knows each content by its sha256.
		"--url-hash", "both"}, cfg.RTPDArgs...)
	d, err := proc.StartRTPD(ctx, rtpd, served, rlog, args...)
	if err != nil {
		return nil, fmt.Errorf("starting rtpd: %w\n%s", err, rlog.tail())
	}
	defer d.Kill()
	s.dial = d.Dial
	for s.httpAddr == "" || s.geminiAddr == "" || s.metricsAt == "" {
		s.httpAddr, s.geminiAddr, s.metricsAt = hostPort(rlog.addr("http")), hostPort(rlog.addr("gemini")), hostPort(rlog.addr("metrics"))
		if time.Since(start) > 30*time.Second || !d.Alive() {
			return nil, fmt.Errorf("rtpd did not log its HTTP, Gemini and metrics addresses:\n%s", rlog.tail())
		}
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Fprintf(cfg.Progress, "soak: rtpd pid %d up in %v (%d files, %d MiB seeded); http %s, gemini %s, metrics %s; running %v\n",
		d.Pid(), time.Since(start).Round(time.Millisecond), len(s.book.files), s.book.size()>>20, s.httpAddr, s.geminiAddr, s.metricsAt, cfg.Duration)

	res := s.drive(ctx, d, w, rlog)
	return res, nil
}

// binaries builds rtpd and rtpget into tmp, or finds them in cfg.Bin, and
// returns rtpd's path.
func (s *soak) binaries(ctx context.Context) (string, error) {
	dir, err := filepath.Abs(s.cfg.Bin)
	if err != nil {
		return "", err
	}
	if s.cfg.Bin == "" {
		dir = filepath.Join(s.tmp, "bin")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", dir+string(filepath.Separator),
			"github.com/rtp-project/rtp/cmd/rtpd", "github.com/rtp-project/rtp/cmd/rtpget")
		cmd.Stdout, cmd.Stderr = s.cfg.Progress, s.cfg.Progress
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("go build rtpd rtpget: %w", err)
		}
	}
	rtpd, rtpget := filepath.Join(dir, "rtpd"), filepath.Join(dir, "rtpget")
	for _, b := range []string{rtpd, rtpget} {
		if _, err := os.Stat(b); err != nil {
			return "", fmt.Errorf("%w (run make build, or leave -bin out)", err)
		}
	}
	s.rtpget = rtpget
	return rtpd, nil
}
