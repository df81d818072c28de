// Package proc runs a real rtpd for the benchmarks and watches it through
// /proc: its RSS, peak RSS and open descriptors.
package proc

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rtp-project/rtp/rtpurl"
)

// BuildRTPD builds the real rtpd binary into dir.
func BuildRTPD(ctx context.Context, dir string, log io.Writer) (string, error) {
	bin := filepath.Join(dir, "rtpd")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/rtp-project/rtp/cmd/rtpd")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build rtpd: %w", err)
	}
	return bin, nil
}

// WriteRandom writes size pseudo-random bytes to dir and returns their sha256
// in hex.
func WriteRandom(dir string, size int64) (string, error) {
	f, err := os.CreateTemp(dir, "blob-*.rand")
	if err != nil {
		return "", err
	}
	h := sha256.New()
	src := rand.NewChaCha8([32]byte{'h', 'o', 's', 't', 'i', 'l', 'e'})
	buf := make([]byte, 1<<20)
	w := io.MultiWriter(f, h)
	for left := size; left > 0; left -= int64(len(buf)) {
		p := buf[:min(left, int64(len(buf)))]
		src.Read(p)
		if _, err := w.Write(p); err != nil {
			f.Close()
			return "", err
		}
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// RTPD is a running rtpd serve.
type RTPD struct {
	cmd    *exec.Cmd
	Dial   rtpurl.Dial
	exited chan struct{} // closed when the process has ended
	err    error         // how it ended, once exited is closed

	mu     sync.Mutex
	last   []string       // its last log lines
	levels map[string]int // log lines by level
}

var (
	dialRE  = regexp.MustCompile(`dial=(\S+)`)
	levelRE = regexp.MustCompile(`level=(\S+)`)
)

// StartRTPD runs bin serve on dir, listening on a free loopback TCP port,
// with args added, and waits until it is indexed and listening. Its log goes to verbose if
// that is not nil.
func StartRTPD(ctx context.Context, bin, dir string, verbose io.Writer, args ...string) (*RTPD, error) {
	cmd := exec.Command(bin, append(append([]string{"serve", "--listen", "tcp!127.0.0.1!0"}, args...), dir)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	d := &RTPD{cmd: cmd, exited: make(chan struct{}), levels: make(map[string]int)}
	found := make(chan rtpurl.Dial, 1)
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			if verbose != nil {
				fmt.Fprintln(verbose, "rtpd:", line)
			}
			d.mu.Lock()
			d.last = append(d.last[max(0, len(d.last)-9):], line)
			if m := levelRE.FindStringSubmatch(line); m != nil {
				d.levels[m[1]]++
			}
			d.mu.Unlock()
			if m := dialRE.FindStringSubmatch(line); m != nil {
				if dl, err := rtpurl.ParseDial(m[1]); err == nil {
					select {
					case found <- dl:
					default:
					}
				}
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	go func() {
		<-logDone // Wait closes the pipe: drain it first
		d.err = cmd.Wait()
		close(d.exited)
	}()
	select {
	case d.Dial = <-found:
		return d, nil
	case <-d.exited:
		return nil, fmt.Errorf("rtpd exited before listening (%v):\n%s", d.err, d.LastLines())
	case <-ctx.Done():
		d.Kill()
		return nil, ctx.Err()
	}
}

// ExitErr says how the process ended, once Alive is false.
func (d *RTPD) ExitErr() error {
	<-d.exited
	return d.err
}

func (d *RTPD) Pid() int { return d.cmd.Process.Pid }

// Alive reports whether the process is still running.
func (d *RTPD) Alive() bool {
	select {
	case <-d.exited:
		return false
	default:
		return true
	}
}

// Kill kills rtpd and waits for it.
func (d *RTPD) Kill() {
	d.cmd.Process.Kill()
	<-d.exited
}

func (d *RTPD) LastLines() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return strings.Join(d.last, "\n")
}

// LogLevels returns how many log lines rtpd wrote at each level.
func (d *RTPD) LogLevels() map[string]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	m := make(map[string]int, len(d.levels))
	for k, v := range d.levels {
		m[k] = v
	}
	return m
}

// Status returns the named fields of /proc/pid/status, in bytes, for
// those given in kB.
func Status(pid int, names ...string) (map[string]int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	m := make(map[string]int64, len(names))
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		for _, n := range names {
			if k != n {
				continue
			}
			f := strings.Fields(v)
			if len(f) == 0 {
				continue
			}
			x, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: %q: %w", n, v, err)
			}
			if len(f) > 1 && f[1] == "kB" {
				x <<= 10
			}
			m[n] = x
		}
	}
	for _, n := range names {
		if _, ok := m[n]; !ok {
			return nil, fmt.Errorf("/proc/%d/status has no %s", pid, n)
		}
	}
	return m, nil
}

// ResetHWM resets pid's VmHWM to its current RSS (Linux 4.0 and later), so
// that the peak measured afterwards leaves out indexing.
func ResetHWM(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// OpenFDs counts pid's open file descriptors.
func OpenFDs(pid int) (int, error) {
	es, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(es), err
}

// RSSSampler samples a process's VmRSS and descriptor count.
type RSSSampler struct {
	mu       sync.Mutex
	Samples  int
	Peak     int64         // largest VmRSS seen, bytes
	PeakAt   time.Duration // since start
	Last     int64
	MaxFDs   int
	Errs     int
	FirstErr error
}

// Run samples pid every interval until ctx is done.
func (s *RSSSampler) Run(ctx context.Context, pid int, interval time.Duration) {
	start := time.Now()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		m, err := Status(pid, "VmRSS")
		fds, ferr := OpenFDs(pid)
		s.mu.Lock()
		switch {
		case err != nil:
			s.Errs++
			if s.FirstErr == nil {
				s.FirstErr = err
			}
		default:
			s.Samples++
			s.Last = m["VmRSS"]
			if s.Last > s.Peak {
				s.Peak, s.PeakAt = s.Last, time.Since(start)
			}
		}
		if ferr == nil {
			s.MaxFDs = max(s.MaxFDs, fds)
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
