package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rtp-project/rtp/internal/rtpdtest"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/urn"
)

// proc is an rtpd process started with exactly the arguments given, its
// stderr read line by line.
type proc struct {
	t     *testing.T
	cmd   *exec.Cmd
	lines chan string // closed at EOF
	done  chan struct{}
	mu    sync.Mutex
	log   strings.Builder
}

// launch starts rtpd ARGS...; it is killed when the test ends. stderr,
// when not nil, is the process's stderr (a terminal), read from out.
func launch(t *testing.T, stderr *os.File, out io.Reader, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, cmd: exec.Command(rtpdtest.RTPD, args...), lines: make(chan string, 1024), done: make(chan struct{})}
	if stderr != nil {
		p.cmd.Stderr = stderr
	} else {
		pipe, err := p.cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		out = pipe
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if stderr != nil {
		stderr.Close() // ours: reading out ends when rtpd exits
	}
	t.Cleanup(func() { p.cmd.Process.Kill(); <-p.done })
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := strings.TrimSuffix(sc.Text(), "\r")
			p.mu.Lock()
			p.log.WriteString(line + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- line:
			default:
			}
		}
		close(p.lines)
		io.Copy(io.Discard, out)
	}()
	go func() { p.cmd.Wait(); close(p.done) }()
	return p
}

// waitFor returns the submatches of the first line matching re, or fails
// if rtpd exits first or within a minute.
func (p *proc) waitFor(re *regexp.Regexp) []string {
	p.t.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				p.t.Fatalf("rtpd exited without logging %s:\n%s", re, p.Log())
			}
			if m := re.FindStringSubmatch(line); m != nil {
				return m
			}
		case <-timeout:
			p.t.Fatalf("rtpd did not log %s within a minute:\n%s", re, p.Log())
		}
	}
}

// exit waits up to a minute for rtpd to exit and returns its code.
func (p *proc) exit() int {
	p.t.Helper()
	select {
	case <-p.done:
		for range p.lines {
		}
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(time.Minute):
		p.t.Fatalf("rtpd still running after a minute:\n%s", p.Log())
		return -1
	}
}

func (p *proc) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

var listeningOn = regexp.MustCompile(`listening on .*dial=(\S+)`)

// TestFlagsAfterArguments: every rtpd command takes its flags after its
// arguments as well as before them.
func TestFlagsAfterArguments(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	data := randomFile(t, filepath.Join(dir, "f.bin"), 1<<20)
	file := filepath.Join(dir, "f.bin")

	// url: the servers and hash given after the file.
	out, stderr, code := rtpdtest.Run(t, rtpdtest.RTPD, "url", file, "--server", "tls!example.org!9000", "--hash=sha256")
	if code != 0 {
		t.Fatalf("rtpd url FILE --server …: exit %d, %s", code, stderr)
	}
	u, err := rtpurl.Parse(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("rtpd url printed %q: %v", out, err)
	}
	if len(u.Servers) != 1 || u.Servers[0].String() != "tls!example.org!9000" || len(u.Hashes) != 1 || u.Hashes[0].Kind != urn.SHA256 {
		t.Errorf("rtpd url FILE --server tls!example.org!9000 --hash=sha256 printed %s", out)
	}

	// ls: the index given after the folder.
	index := filepath.Join(state, "ls.db")
	out, stderr, code = rtpdtest.Run(t, rtpdtest.RTPD, "ls", dir, "--index", index)
	if code != 0 || !strings.Contains(out, "f.bin") {
		t.Fatalf("rtpd ls DIR --index …: exit %d, %s%s", code, out, stderr)
	}
	if _, err := os.Stat(index); err != nil {
		t.Errorf("rtpd ls DIR --index %s: %v", index, err)
	}
	if _, err := os.Stat(filepath.Join(dir, store.DefaultIndexDir)); err == nil {
		t.Errorf("rtpd ls DIR --index …: made the default index in DIR")
	}

	// serve: the listener and index given after the folder; then a
	// download from it, with rtpget's flags after the URL too.
	p := launch(t, nil, nil, "serve", dir, "--listen", "tcp!127.0.0.1!0", "--index", filepath.Join(state, "serve.db"), "--log-level=debug")
	dial := p.waitFor(listeningOn)[1]
	if !strings.HasPrefix(dial, "tcp!127.0.0.1!") {
		t.Errorf("rtpd serve DIR --listen tcp!127.0.0.1!0 listens on %s", dial)
	}
	d, _ := rtpurl.ParseDial(dial)
	u.Servers = []rtpurl.Dial{d}
	got := filepath.Join(t.TempDir(), "f.bin")
	if _, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, u.String(), "-o", got, "-q"); code != 0 {
		t.Errorf("rtpget URL -o FILE -q: exit %d, %s", code, stderr)
	} else if b, _ := os.ReadFile(got); string(b) != string(data) {
		t.Errorf("fetched bytes differ")
	}

	// A flag missing its value is still a usage error, one line.
	wantUsageErrors(t, []string{"serve", dir, "--listen"}, []string{"url", file, "--server"}, []string{"serve", dir, "--no-such-flag"})
}

// TestSignalExitCodes: after the graceful shutdown, SIGINT (Ctrl-C) exits
// 130, as a shell reports a process it stopped, and SIGTERM, a service
// manager's stop, exits 0.
func TestSignalExitCodes(t *testing.T) {
	dir := t.TempDir()
	randomFile(t, filepath.Join(dir, "f"), 1000)
	for _, c := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 0}} {
		s := rtpdtest.Start(t, dir, "--index", filepath.Join(t.TempDir(), "index.db"), "--listen", "tcp!127.0.0.1!0")
		s.Signal(c.sig)
		if code := s.Wait(); code != c.code || !strings.Contains(s.Log(), "shutting down") {
			t.Errorf("rtpd exited %d after %v, want %d after shutting down:\n%s", code, c.sig, c.code, s.Log())
		}
	}
}

// TestBindBeforeIndex: a port in use or an address not of this host is
// reported at once, one line, exit 1, before the index pass: the index
// holds nothing afterwards. Each of --listen (TCP and QUIC), --metrics,
// --http and --gemini.
func TestBindBeforeIndex(t *testing.T) {
	dir := t.TempDir()
	for i := range 16 {
		randomFile(t, filepath.Join(dir, fmt.Sprintf("f%02d", i)), 1<<20)
	}
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	busyTCP := rtpurl.DialFromAddr(rtpurl.TCP, tcp.Addr()).String()
	busyQUIC := rtpurl.DialFromAddr(rtpurl.QUIC, udp.LocalAddr()).String()
	cases := [][]string{
		{"--listen", busyTCP},
		{"--listen", "tcp!127.0.0.1!0", "--listen", busyQUIC},
		{"--listen", "tcp!127.0.0.1!0", "--metrics", busyTCP},
		{"--listen", "tcp!127.0.0.1!0", "--http", busyTCP},
		{"--listen", "tcp!127.0.0.1!0", "--gemini", busyTCP},
		{"--listen", "tls!127.0.0.1!0", "--listen", "tcp!192.0.2.1!7777"}, // TEST-NET-1: not this host's
	}
	for _, flags := range cases {
		index := filepath.Join(t.TempDir(), "index.db")
		args := append(append([]string{"serve", "--index", index}, flags...), dir)
		_, stderr, code := rtpdtest.Run(t, rtpdtest.RTPD, args...)
		busy := flags[len(flags)-1]
		args = args[1:]
		if code != 1 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.HasPrefix(stderr, "rtpd: ") || !strings.Contains(stderr, busy) {
			t.Errorf("rtpd serve %v: exit %d, stderr %q; want 1 and one line naming %s", args, code, stderr, busy)
		}
		if strings.Contains(stderr, "index pass") {
			t.Errorf("rtpd serve %v indexed before binding:\n%s", args, stderr)
		}
		if n := indexed(t, dir, index); n != 0 {
			t.Errorf("rtpd serve %v: the index holds %d files: indexed before it failed to bind", args, n)
		}
	}
}

// indexed counts the files an index holds, without a pass.
func indexed(t *testing.T, dir, index string) int {
	t.Helper()
	if _, err := os.Stat(index); err != nil {
		return 0
	}
	disk, err := store.OpenDisk(dir, store.Options{Index: index})
	if err != nil {
		t.Fatal(err)
	}
	defer disk.Close()
	n := 0
	if err := disk.List(context.Background(), func(store.Entry) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestHealthzWhileIndexing: /healthz answers 503 "indexing" and /metrics
// answers while the first index pass has not ended, /healthz "ok" once it
// has; rtpd serve runs in this process, held before its pass by indexHook.
func TestHealthzWhileIndexing(t *testing.T) {
	dir := t.TempDir()
	for i := range 4 {
		randomFile(t, filepath.Join(dir, fmt.Sprintf("f%d", i)), 1<<20)
	}
	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			t.Errorf("GET %s: %v", url, err)
			return 0, ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	held := make(chan string, 1) // the metrics URL, once the hook has looked
	indexHook = func(metrics []rtpurl.Dial) {
		base := "http://" + metrics[0].Address()
		defer func() { held <- base }()
		if code, body := get(base + "/healthz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "indexing") {
			t.Errorf("/healthz before the first pass: %d %q, want 503 indexing", code, body)
		}
		if code, body := get(base + "/metrics"); code != 200 || !strings.Contains(body, "rtpd_index_files 0") {
			t.Errorf("/metrics before the first pass: %d, want 200 and rtpd_index_files 0:\n%s", code, body)
		}
	}
	t.Cleanup(func() { indexHook = nil })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- newApp().RunContext(ctx, []string{"rtpd", "serve", "--index", filepath.Join(t.TempDir(), "index.db"),
			"--listen", "tcp!127.0.0.1!0", "--metrics", "tcp!127.0.0.1!0", dir})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("rtpd serve: %v", err)
		}
	}()
	var base string
	select {
	case base = <-held:
	case err := <-done:
		done <- err
		t.Fatalf("rtpd serve returned %v before its index pass", err)
	case <-time.After(time.Minute):
		t.Fatal("rtpd serve did not reach its index pass within a minute")
	}
	// After the hook, the pass runs; /healthz turns ok when it ends.
	for deadline := time.Now().Add(time.Minute); ; {
		code, body := get(base + "/healthz")
		if code == 200 {
			if body != "ok\n" {
				t.Errorf("/healthz: 200 %q", body)
			}
			break
		}
		if code != http.StatusServiceUnavailable || !strings.Contains(body, "indexing") || time.Now().After(deadline) {
			t.Fatalf("/healthz: %d %q", code, body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if s := rtpdtest.Scrape(t, base+"/metrics"); s["rtpd_index_files"] != 4 {
		t.Errorf("rtpd_index_files %v once healthy, want 4", s["rtpd_index_files"])
	}
}
