package main

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

// buildRTPD builds the real rtpd binary into dir.
func buildRTPD(ctx context.Context, dir string, log io.Writer) (string, error) {
	bin := filepath.Join(dir, "rtpd")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/rtp-project/rtp/cmd/rtpd")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build rtpd: %w", err)
	}
	return bin, nil
}

// writeFile writes size pseudo-random bytes to dir and returns their sha256
// in hex.
func writeFile(dir string, size int64) (string, error) {
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

// rtpd is a running rtpd serve.
type rtpd struct {
	cmd    *exec.Cmd
	dial   rtpurl.Dial
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

// startRTPD runs bin serve on dir, listening on a free loopback TCP port,
// and waits until it is indexed and listening. Its log goes to verbose if
// that is not nil.
func startRTPD(ctx context.Context, bin, dir string, verbose io.Writer) (*rtpd, error) {
	cmd := exec.Command(bin, "serve", "--listen", "tcp!127.0.0.1!0", dir)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	d := &rtpd{cmd: cmd, exited: make(chan struct{}), levels: make(map[string]int)}
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
	case d.dial = <-found:
		return d, nil
	case <-d.exited:
		return nil, fmt.Errorf("rtpd exited before listening (%v):\n%s", d.err, d.lastLines())
	case <-ctx.Done():
		d.kill()
		return nil, ctx.Err()
	}
}

func (d *rtpd) pid() int { return d.cmd.Process.Pid }

// alive reports whether the process is still running.
func (d *rtpd) alive() bool {
	select {
	case <-d.exited:
		return false
	default:
		return true
	}
}

// kill kills rtpd and waits for it.
func (d *rtpd) kill() {
	d.cmd.Process.Kill()
	<-d.exited
}

func (d *rtpd) lastLines() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return strings.Join(d.last, "\n")
}

// logLevels returns how many log lines rtpd wrote at each level.
func (d *rtpd) logLevels() map[string]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	m := make(map[string]int, len(d.levels))
	for k, v := range d.levels {
		m[k] = v
	}
	return m
}

// procStatus returns the named fields of /proc/pid/status, in bytes, for
// those given in kB.
func procStatus(pid int, names ...string) (map[string]int64, error) {
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

// resetHWM resets pid's VmHWM to its current RSS (Linux 4.0 and later), so
// that the peak measured afterwards leaves out indexing.
func resetHWM(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// openFDs counts pid's open file descriptors.
func openFDs(pid int) (int, error) {
	es, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(es), err
}

// rssSampler samples a process's VmRSS and descriptor count.
type rssSampler struct {
	mu       sync.Mutex
	samples  int
	peak     int64         // largest VmRSS seen, bytes
	peakAt   time.Duration // since start
	last     int64
	maxFDs   int
	errs     int
	firstErr error
}

// run samples pid every interval until ctx is done.
func (s *rssSampler) run(ctx context.Context, pid int, interval time.Duration) {
	start := time.Now()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		m, err := procStatus(pid, "VmRSS")
		fds, ferr := openFDs(pid)
		s.mu.Lock()
		switch {
		case err != nil:
			s.errs++
			if s.firstErr == nil {
				s.firstErr = err
			}
		default:
			s.samples++
			s.last = m["VmRSS"]
			if s.last > s.peak {
				s.peak, s.peakAt = s.last, time.Since(start)
			}
		}
		if ferr == nil {
			s.maxFDs = max(s.maxFDs, fds)
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
