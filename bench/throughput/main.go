// Command throughput measures on loopback how close an RTP/1 download from a
// real rtpd comes to a bare stream copy over the same transport.
//
// For each transport it downloads a -size file of random bytes from rtpd over
// one session, -window READs of -read bytes in flight, and copies as many
// bytes over a bare TCP conn, TLS conn or QUIC stream from a server that is,
// like rtpd, a separate process: this program run with -bare-server. Both
// clients read through the same 256 KiB loop and count the bytes without
// keeping them. Measurements alternate rtp/bare -n times; the medians are
// printed. From the module root:
//
//	go run ./bench/throughput -n 3
//
// -dir keeps the file and rtpd's index between runs, sparing the hashing.
// -source file makes the bare server pread the file as rtpd does, which
// separates the cost of reading the file from that of the protocol; -source
// bigmem sends -size distinct bytes from memory (no file), which, unlike the
// default cache-hot 256 KiB buffer, makes the copy read memory as a file of
// that size must.
package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/server"
)

var (
	flagN          = flag.Int("n", 3, "measurements of each kind per transport; the median is reported")
	flagSize       = flag.Int64("size", 1<<30, "bytes per measurement")
	flagTransports = flag.String("transports", "tcp,tls,quic", "comma-separated transports")
	flagDir        = flag.String("dir", "", "folder for the file and rtpd's index, kept between runs (default: a temporary folder)")
	flagWindow     = flag.Int("window", 16, "READs in flight")
	flagRead       = flag.Int64("read", 1<<20, "bytes per READ")
	flagSource     = flag.String("source", "mem", "what the bare server sends: mem (one 256 KiB buffer again and again), bigmem (-size distinct bytes in memory), file (pread, as rtpd) or sendfile (tcp only)")
	flagRTPD       = flag.String("rtpd", "", "rtpd binary (default: go build ./cmd/rtpd)")
	flagVerbose    = flag.Bool("v", false, "copy the servers' logs to stderr")
	flagBareServer = flag.Bool("bare-server", false, "internal: serve as the bare server, as the benchmark starts itself")
)

func main() {
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	var err error
	if *flagBareServer {
		err = runBareServer(ctx)
	} else {
		err = run(ctx)
	}
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "throughput:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	protos := strings.Split(*flagTransports, ",")
	for _, p := range protos {
		if p != rtpurl.TCP && p != rtpurl.TLS && p != rtpurl.QUIC || *flagSource == "sendfile" && p != rtpurl.TCP {
			return fmt.Errorf("transport %q: want tcp, tls or quic; -source sendfile only tcp", p)
		}
	}
	if *flagN < 1 || *flagSize < 1 || *flagWindow < 1 || *flagRead < 1 {
		return errors.New("-n, -size, -window and -read must be positive")
	}
	tmp, err := os.MkdirTemp("", "rtp-throughput-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	dir := cmp.Or(*flagDir, filepath.Join(tmp, "data"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	sum, err := ensureFile(dir, *flagSize)
	if err != nil {
		return err
	}
	bin := cmp.Or(*flagRTPD, filepath.Join(tmp, "rtpd"))
	if *flagRTPD == "" {
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/rtp-project/rtp/cmd/rtpd")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build rtpd: %w", err)
		}
	}
	args := []string{"serve"}
	for _, p := range protos {
		args = append(args, "--listen", p+"!127.0.0.1!0")
	}
	rtpd, err := startChild(exec.Command(bin, append(args, dir)...), protos)
	if err != nil {
		return err
	}
	defer rtpd.stop()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	bare, err := startChild(exec.Command(self, append(os.Args[1:], "-dir", dir, "-bare-server")...), protos)
	if err != nil {
		return err
	}
	defer bare.stop()

	fmt.Printf("size %d B, %d READs of %d B in flight, bare source %s, n %d, GOMAXPROCS %d, %s\n",
		*flagSize, *flagWindow, *flagRead, *flagSource, *flagN, runtime.GOMAXPROCS(0), runtime.Version())
	var summary []string
	for _, p := range protos {
		// Warm up: the first session of each server pays for buffers and heap.
		warm := min(*flagSize, 64<<20)
		if _, err := measureRTP(ctx, rtpd.dials[p], "urn:sha256:"+sum, warm); err != nil {
			return fmt.Errorf("%s rtp: %w", p, err)
		}
		if _, err := measureBare(ctx, bare.dials[p], warm); err != nil {
			return fmt.Errorf("%s bare: %w", p, err)
		}
		var rtps, bares []float64
		for i := range *flagN {
			cpu := sampleCPU(rtpd.pid, bare.pid)
			r, err := measureRTP(ctx, rtpd.dials[p], "urn:sha256:"+sum, *flagSize)
			if err != nil {
				return fmt.Errorf("%s rtp: %w", p, err)
			}
			c, err := measureBare(ctx, bare.dials[p], *flagSize)
			if err != nil {
				return fmt.Errorf("%s bare: %w", p, err)
			}
			rtps, bares = append(rtps, r), append(bares, c)
			fmt.Printf("  %s run %d: rtp %.0f MB/s, bare %.0f MB/s%s\n", p, i+1, r, c, cpu.others())
		}
		r, c := median(rtps), median(bares)
		summary = append(summary, fmt.Sprintf("%s: rtp %.0f MB/s, bare %.0f MB/s, ratio %.2f", p, r, c, r/c))
	}
	fmt.Println(strings.Join(summary, "\n"))
	return nil
}

// runBareServer serves -transports with -source until interrupted, logging
// each listener's dial= as rtpd does. The file and rtpd's certificate must
// be in -dir.
func runBareServer(ctx context.Context) error {
	sum, err := ensureFile(*flagDir, *flagSize)
	if err != nil {
		return err
	}
	send, err := newSender(*flagSource, filepath.Join(*flagDir, sum+".rand"))
	if err != nil {
		return err
	}
	cert, _, err := server.LoadOrCreateCert("", "", filepath.Join(*flagDir, ".rtpd"))
	if err != nil {
		return err
	}
	for _, p := range strings.Split(*flagTransports, ",") {
		addr, err := serveBare(ctx, p, cert, send)
		if err != nil {
			return err
		}
		fmt.Fprintln(os.Stderr, "dial="+rtpurl.DialFromAddr(p, addr).String())
	}
	<-ctx.Done()
	return nil
}

// ensureFile returns the sha256 of a file in dir of size random bytes, named
// by that hash, writing it first if there is none.
func ensureFile(dir string, size int64) (string, error) {
	names, _ := filepath.Glob(filepath.Join(dir, "*.rand"))
	for _, name := range names {
		sum := strings.TrimSuffix(filepath.Base(name), ".rand")
		if fi, err := os.Stat(name); err == nil && fi.Size() == size && len(sum) == 2*sha256.Size {
			return sum, nil
		}
	}
	f, err := os.CreateTemp(dir, "tmp-*.part")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	h, src, buf := sha256.New(), rand.NewChaCha8([32]byte{}), make([]byte, 1<<20)
	for left := size; left > 0; left -= int64(len(buf)) {
		p := buf[:min(left, int64(len(buf)))]
		src.Read(p)
		h.Write(p)
		if _, err := f.Write(p); err != nil {
			f.Close()
			return "", err
		}
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	return sum, os.Rename(f.Name(), filepath.Join(dir, sum+".rand"))
}

var dialRE = regexp.MustCompile(`dial=(\S+)`)

// child is a server process: rtpd, or this program with -bare-server.
type child struct {
	pid   int
	dials map[string]rtpurl.Dial
	stop  func()
}

// startChild runs cmd and returns once it has logged the dial= of a listener
// on each of protos (rtpd: after indexing).
func startChild(cmd *exec.Cmd, protos []string) (*child, error) {
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); pw.Close(); close(exited) }()
	c := &child{
		pid:   cmd.Process.Pid,
		dials: make(map[string]rtpurl.Dial),
		stop:  func() { cmd.Process.Signal(os.Interrupt); <-exited },
	}
	var line string
	for sc := bufio.NewScanner(pr); len(c.dials) < len(protos) && sc.Scan(); {
		if line = sc.Text(); *flagVerbose {
			fmt.Fprintln(os.Stderr, line)
		}
		if m := dialRE.FindStringSubmatch(line); m != nil {
			if d, err := rtpurl.ParseDial(m[1]); err == nil {
				c.dials[d.Proto] = d
			}
		}
	}
	out := io.Discard
	if *flagVerbose {
		out = os.Stderr
	}
	go io.Copy(out, pr) // the rest, until it exits
	if len(c.dials) < len(protos) {
		c.stop()
		return nil, fmt.Errorf("%s exited before listening: %s", filepath.Base(cmd.Path), line)
	}
	return c, nil
}

// cpuSample is the CPU time, in clock ticks, used by the whole machine and by
// this process and the children pids, as Linux's /proc tells; zero elsewhere.
type cpuSample struct {
	all, ours int64
	at        time.Time
	pids      []int
}

func sampleCPU(pids ...int) cpuSample {
	s := cpuSample{at: time.Now(), pids: pids}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0]) // cpu user nice system idle iowait irq softirq steal
		for _, i := range []int{1, 2, 3, 8} {                      // not idle, iowait or interrupts
			n, _ := strconv.ParseInt(f[min(i, len(f)-1)], 10, 64)
			s.all += n
		}
	}
	for _, pid := range append(pids, os.Getpid()) {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:])) // from field 3
			for _, i := range []int{11, 12} {                              // utime, stime
				n, _ := strconv.ParseInt(f[min(i, len(f)-1)], 10, 64)
				s.ours += n
			}
		}
	}
	return s
}

// others says how much of the CPUs other processes took since s, if much.
func (s cpuSample) others() string {
	t := sampleCPU(s.pids...)
	pct := float64(t.all-s.all-(t.ours-s.ours)) / 100 / t.at.Sub(s.at).Seconds() / float64(runtime.NumCPU()) * 100 // USER_HZ is 100
	if pct < 5 {
		return ""
	}
	return fmt.Sprintf(" (other processes took %.0f%% of the CPUs: noisy)", pct)
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	return (s[(len(s)-1)/2] + s[len(s)/2]) / 2
}
