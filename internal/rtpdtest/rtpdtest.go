// Package rtpdtest builds the real rtpd and rtpget binaries once per test
// binary and runs rtpd processes on loopback for end-to-end tests.
//
//	func TestMain(m *testing.M) { os.Exit(rtpdtest.Main(m)) }
//
//	srv := rtpdtest.Start(t, dir, "--listen", "tcp!127.0.0.1!0")
//	out, code := rtpdtest.Run(t, rtpdtest.RTPGet, "-o", name, url)
package rtpdtest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Paths of the built binaries, set by Main.
var (
	RTPD   string
	RTPGet string
)

// Main builds the binaries into a temporary folder, runs the tests, and
// removes the folder.
func Main(m *testing.M) int {
	dir, err := os.MkdirTemp("", "rtpdtest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	out, err := exec.Command("go", "build", "-o", dir+"/", "github.com/rtp-project/rtp/cmd/rtpd", "github.com/rtp-project/rtp/cmd/rtpget").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building rtpd and rtpget: %v\n%s", err, out)
		return 1
	}
	RTPD, RTPGet = filepath.Join(dir, "rtpd"), filepath.Join(dir, "rtpget")
	return m.Run()
}

// Server is a running rtpd process.
type Server struct {
	t     *testing.T
	args  []string
	cmd   *exec.Cmd
	done  chan struct{}
	mu    sync.Mutex
	log   bytes.Buffer
	Dials []string // what it listens on, e.g. tcp!127.0.0.1!41234

	// The faces' bound dials, in the order given: a port given as 0 here
	// holds the one the kernel chose.
	HTTP, Metrics, Gemini []string
}

// What rtpd logs once a listener is bound, by the flag that asked for it.
var bound = []struct {
	flag string
	re   *regexp.Regexp
}{
	{"--listen", regexp.MustCompile(`listening on .* dial=(\S+)`)},
	{"--http", regexp.MustCompile(`serving http on .* http=(\S+)`)},
	{"--metrics", regexp.MustCompile(`serving metrics on .* metrics=(\S+)`)},
	{"--gemini", regexp.MustCompile(`serving gemini\+rtp:// names on .* gemini=(\S+)`)},
}

// Start runs `rtpd serve ARGS... DIR` and waits until it listens on every
// --listen, --http, --metrics and --gemini it was given; pass port 0 and read
// the bound dials from the Server. The process is killed when the test ends.
// An empty dir is left out (an edge serves no folder).
func Start(t *testing.T, dir string, args ...string) *Server {
	t.Helper()
	s := &Server{t: t, args: append([]string{"serve"}, args...)}
	if dir != "" {
		s.args = append(s.args, dir)
	}
	s.start()
	t.Cleanup(s.Kill)
	return s
}

func (s *Server) start() {
	s.t.Helper()
	want := make([]int, len(bound))
	for _, a := range s.args {
		for i, b := range bound {
			if a == b.flag || strings.HasPrefix(a, b.flag+"=") {
				want[i]++
			}
		}
	}
	if want[0] == 0 {
		want[0] = 1 // the default listener
	}
	total := 0
	for _, n := range want {
		total += n
	}
	s.cmd = exec.Command(RTPD, s.args...)
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.done = make(chan struct{})
	type found1 struct {
		kind int
		dial string
	}
	found := make(chan found1, total)
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.log.WriteString(line + "\n")
			s.mu.Unlock()
			for i, b := range bound {
				if m := b.re.FindStringSubmatch(line); m != nil {
					select {
					case found <- found1{i, m[1]}:
					default: // more than asked for: never block rtpd's stderr
					}
				}
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	// Wait closes the pipe: only after the last line has been read, or it
	// may be lost (rtpd's "shutting down" just before it exits).
	go func() { <-read; s.cmd.Wait(); close(s.done) }()
	got := make([][]string, len(bound))
	defer func() { s.Dials, s.HTTP, s.Metrics, s.Gemini = got[0], got[1], got[2], got[3] }()
	timeout := time.After(60 * time.Second)
	for n := 0; n < total; n++ {
		select {
		case f := <-found:
			got[f.kind] = append(got[f.kind], f.dial)
		case <-s.done:
			s.t.Fatalf("rtpd exited before listening:\n%s", s.Log())
		case <-timeout:
			s.Kill()
			s.t.Fatalf("rtpd did not listen within 60 s:\n%s", s.Log())
		}
	}
}

// Restart starts the process again with the same arguments, after a Kill.
// Ports given as 0 are chosen anew; pass fixed ports to keep URLs valid.
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	s.start()
}

// Kill sends SIGKILL and waits for the process to exit.
func (s *Server) Kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// Signal sends sig to the process.
func (s *Server) Signal(sig os.Signal) { s.cmd.Process.Signal(sig) }

// Wait waits up to 30 s for the process to exit and returns its exit code,
// or -1 if it had to be killed.
func (s *Server) Wait() int {
	select {
	case <-s.done:
		return s.cmd.ProcessState.ExitCode()
	case <-time.After(30 * time.Second):
		s.Kill()
		return -1
	}
}

// Log returns what rtpd wrote to stderr so far.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// Alive reports whether the process is still running.
func (s *Server) Alive() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// Pid returns the process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Run runs a command with a 2-minute limit and returns its stdout, stderr
// and exit code.
func Run(t *testing.T, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		t.Fatalf("%s %v: %v", bin, args, err)
	}
	return o.String(), e.String(), code
}

// CheckVersion checks that `bin --version` prints "NAME version …, go1.…"
// and exits 0, and that -v is not an alias of it: for rtpget it means
// verbose, so it must fail for want of a URL, exit 2.
func CheckVersion(t *testing.T, bin, name string) {
	t.Helper()
	stdout, stderr, code := Run(t, bin, "--version")
	if code != 0 || !strings.HasPrefix(stdout, name+" version ") || !strings.Contains(stdout, "go1.") {
		t.Fatalf("%s --version: exit %d, stdout %q, stderr %q", name, code, stdout, stderr)
	}
	if _, stderr, code := Run(t, bin, "-v"); code != 2 || strings.Contains(stderr, "version") {
		t.Errorf("%s -v: exit %d, %q; want 2, not the version", name, code, stderr)
	}
}
