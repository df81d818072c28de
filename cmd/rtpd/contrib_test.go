package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rtp-project/rtp/internal/mangen"
	"github.com/rtp-project/rtp/internal/rtpdtest"
	"github.com/rtp-project/rtp/server"
)

// envFile reads contrib/rtpd.env as systemd reads an EnvironmentFile: the
// variables it sets, and the assignments commented out ("#KEY=VALUE", the
// defaults and examples). The shipped file keeps to plain KEY=VALUE lines:
// a quote, a backslash or a $ fails the test, as systemd would read them
// otherwise than a shell.
func envFile(t *testing.T) (set map[string]string, commented [][2]string) {
	t.Helper()
	b, err := os.ReadFile("../../contrib/rtpd.env")
	if err != nil {
		t.Fatal(err)
	}
	set = map[string]string{}
	assign := regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)=(.*)$`)
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		comment := strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";")
		body := line
		if comment {
			body = line[1:]
		}
		m := assign.FindStringSubmatch(body)
		switch {
		case line == "":
		case m == nil && comment:
		case m == nil:
			t.Errorf("contrib/rtpd.env:%d: %q is neither a comment nor KEY=VALUE", n+1, line)
		case strings.ContainsAny(m[2], `"'\$`):
			t.Errorf("contrib/rtpd.env:%d: %q: quotes, backslashes and $ read differently in systemd and a shell", n+1, line)
		case comment:
			commented = append(commented, [2]string{m[1], m[2]})
		default:
			set[m[1]] = m[2]
		}
	}
	return set, commented
}

// execStart reads ExecStart= of contrib/rtpd.service and expands it as
// systemd does with env: ${VAR} is one word, $VAR is split at spaces.
func execStart(t *testing.T, env map[string]string) []string {
	t.Helper()
	b, err := os.ReadFile("../../contrib/rtpd.service")
	if err != nil {
		t.Fatal(err)
	}
	var line string
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "ExecStart="); ok {
			if line != "" {
				t.Fatal("contrib/rtpd.service: more than one ExecStart=")
			}
			line = v
		}
	}
	if line == "" || strings.ContainsAny(line, `"'\;`) || strings.ContainsAny(line[:1], "-@:+!") {
		t.Fatalf("contrib/rtpd.service: ExecStart=%q: want plain words", line)
	}
	braced := regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$`)
	var words []string
	for _, w := range strings.Fields(line) {
		switch m := braced.FindStringSubmatch(w); {
		case m != nil:
			words = append(words, env[m[1]])
		case strings.HasPrefix(w, "$"):
			words = append(words, strings.Fields(env[w[1:]])...)
		case strings.Contains(w, "$"):
			t.Fatalf("contrib/rtpd.service: ExecStart word %q: want $VAR or ${VAR} alone", w)
		default:
			words = append(words, w)
		}
	}
	return words
}

// serveFlagsByEnv maps each environment variable rtpd serve reads to its
// flag.
func serveFlagsByEnv() map[string]cli.Flag {
	flags := map[string]cli.Flag{}
	for _, f := range serveCommand().Flags {
		if ef, ok := f.(interface{ GetEnvVars() []string }); ok {
			for _, e := range ef.GetEnvVars() {
				flags[e] = f
			}
		}
	}
	return flags
}

// parseServe parses rtpd serve's flags from the environment only, and
// returns the value of each flag as rtpd would see it.
func parseServe(t *testing.T) (map[string]string, error) {
	t.Helper()
	got := map[string]string{}
	cmd := serveCommand()
	cmd.Action = func(c *cli.Context) error {
		for _, f := range cmd.Flags {
			v := c.Value(f.Names()[0])
			if _, ok := f.(*cli.StringSliceFlag); ok {
				v = c.StringSlice(f.Names()[0])
			}
			got[f.Names()[0]] = fmt.Sprint(v)
		}
		return nil
	}
	app := &cli.App{Name: "rtpd", Commands: []*cli.Command{cmd}, Writer: io.Discard, ErrWriter: io.Discard,
		ExitErrHandler: func(*cli.Context, error) {}}
	err := app.Run([]string{"rtpd", "serve", "DIR"})
	return got, err
}

// TestEnvFileSettings: every RTPD_* variable contrib/rtpd.env names is an
// rtpd serve flag's; every line commented out parses once uncommented, and
// where it shows a default, it is the flag's default.
func TestEnvFileSettings(t *testing.T) {
	set, commented := envFile(t)
	flags := serveFlagsByEnv()
	named := map[string]bool{}
	for k := range set {
		named[k] = true
	}
	for _, kv := range commented {
		named[kv[0]] = true
	}
	for n := range named {
		if _, ok := flags[n]; !ok && strings.HasPrefix(n, "RTPD_") {
			t.Errorf("contrib/rtpd.env names %s, which no rtpd serve flag reads", n)
		}
	}
	for e := range flags {
		if !named[e] {
			t.Errorf("contrib/rtpd.env does not mention %s", e)
		}
	}
	defaults, err := parseServe(t)
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range commented {
		f := flags[kv[0]]
		if f == nil {
			continue
		}
		t.Setenv(kv[0], kv[1])
		got, err := parseServe(t)
		os.Unsetenv(kv[0])
		name := f.Names()[0]
		switch {
		case err != nil:
			t.Errorf("#%s=%s uncommented: %v", kv[0], kv[1], err)
		case got[name] == defaults[name]:
		case defaults[name] == "" || defaults[name] == "[]":
			// An example: the flag has no default.
		default:
			t.Errorf("#%s=%s: a line commented out keeps the default, but --%s defaults to %s and this parses as %s",
				kv[0], kv[1], name, defaults[name], got[name])
		}
	}
}

// netns makes a network namespace with its loopback up, for a test to bind
// the shipped ports (7777 and the like) whatever runs on this machine; it
// is deleted when the test ends. It skips the test when it cannot.
func netns(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("not root: cannot make a network namespace for the shipped ports (run the test as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("no ip command (Debian: apt-get install iproute2)")
	}
	ns := fmt.Sprintf("rtpd-test-%d-%d", os.Getpid(), nsCount.Add(1))
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	if out, err := exec.Command("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("loopback up in %s: %v: %s", ns, err, out)
	}
	return ns
}

var nsCount atomic.Int64

// TestShippedService runs rtpd as contrib/rtpd.service's ExecStart with
// contrib/rtpd.env's variables, as shipped, in a network namespace of its
// own: the only changes are the folders (RTP_FOLDER, the state folder of
// RTPD_INDEX) and the binary's path. It must listen on every listener the
// file names, write only its state folder, and serve a file over each.
// Then again with every line commented out uncommented (the certificate
// and key paths to ones the test makes): the Gemini, metrics and HTTP
// faces on their shipped ports too.
func TestShippedService(t *testing.T) {
	set, commented := envFile(t)
	for _, k := range []string{"RTP_FOLDER", "RTPD_INDEX", "RTPD_LISTEN"} {
		if set[k] == "" {
			t.Fatalf("contrib/rtpd.env does not set %s", k)
		}
	}
	all := maps.Clone(set)
	for _, kv := range commented {
		all[kv[0]] = kv[1]
	}
	// An edge's settings replace the folder: this run serves one.
	for _, f := range []string{flagUpstream, flagUpstreamPin, flagCache, flagCacheSize, flagNegativeTTL, flagUpstreamWait} {
		delete(all, envVar(f)[0])
	}
	certDir := t.TempDir()
	if _, _, err := server.LoadOrCreateCert("", "", certDir); err != nil {
		t.Fatal(err)
	}
	all["RTPD_TLS_CERT"], all["RTPD_TLS_KEY"] = filepath.Join(certDir, "cert.pem"), filepath.Join(certDir, "key.pem")

	for _, run := range []struct {
		name  string
		env   map[string]string
		faces []string // log lines of the faces besides the listeners
	}{
		{"as shipped", set, nil},
		{"every line uncommented", all, []string{"serving gemini+rtp:// names on", "serving metrics on", "serving http on"}},
	} {
		t.Run(run.name, func(t *testing.T) {
			ns := netns(t)
			env := maps.Clone(run.env)
			folder, state := t.TempDir(), t.TempDir()
			data := randomFile(t, filepath.Join(folder, "hello.bin"), 2<<20)
			env["RTP_FOLDER"] = folder
			env["RTPD_INDEX"] = filepath.Join(state, filepath.Base(env["RTPD_INDEX"]))
			argv := execStart(t, env)
			if argv[0] != "/usr/local/bin/rtpd" {
				t.Fatalf("ExecStart runs %s, want /usr/local/bin/rtpd", argv[0])
			}
			argv[0] = rtpdtest.RTPD
			cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, argv...)...)
			cmd.Env = []string{"PATH=" + os.Getenv("PATH")} // systemd's is as bare
			for k, v := range env {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			stderr, _ := cmd.StderrPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan struct{})
			go func() { cmd.Wait(); close(exited) }()
			t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); <-exited })
			var mu sync.Mutex
			var log strings.Builder
			lines := make(chan string, 64)
			go func() {
				sc := bufio.NewScanner(stderr)
				for sc.Scan() {
					mu.Lock()
					log.WriteString(sc.Text() + "\n")
					mu.Unlock()
					select {
					case lines <- sc.Text():
					default:
					}
				}
				close(lines)
			}()
			logged := func() string { mu.Lock(); defer mu.Unlock(); return log.String() }

			listens := strings.Split(env["RTPD_LISTEN"], ",")
			want := len(listens) + len(run.faces)
			var dials []string
			faces := 0
			for timeout := time.After(time.Minute); len(dials)+faces < want; {
				select {
				case l, ok := <-lines:
					if !ok {
						<-exited
						t.Fatalf("rtpd exited %d:\n%s", cmd.ProcessState.ExitCode(), logged())
					}
					if m := listeningOn.FindStringSubmatch(l); m != nil {
						dials = append(dials, m[1])
					}
					for _, f := range run.faces {
						if strings.Contains(l, f) {
							faces++
						}
					}
				case <-timeout:
					t.Fatalf("after a minute:\n%s", logged())
				}
			}
			// A listener on 0.0.0.0 takes IPv6 too, and logs ::.
			var bound []string
			for _, d := range dials {
				bound = append(bound, strings.Replace(d, "!::!", "!0.0.0.0!", 1))
			}
			slices.Sort(bound)
			slices.Sort(listens)
			if !slices.Equal(bound, listens) {
				t.Errorf("listening on %v, want %v", dials, listens)
			}
			if _, err := os.Stat(env["RTPD_INDEX"]); err != nil {
				t.Errorf("no index in the state folder: %v", err)
			}
			if ents, _ := os.ReadDir(folder); len(ents) != 1 {
				t.Errorf("rtpd wrote into the served folder: %v", ents)
			}
			fp := regexp.MustCompile(`tls certificate" sha256=([0-9a-f]{64})`).FindStringSubmatch(logged())
			if fp == nil {
				t.Fatalf("no certificate fingerprint logged:\n%s", logged())
			}
			for _, d := range dials {
				local := strings.Replace(d, "!::!", "!127.0.0.1!", 1)
				url, stderr, code := rtpdtest.Run(t, "ip", "netns", "exec", ns, rtpdtest.RTPD, "url", filepath.Join(folder, "hello.bin"), "--server", local)
				if code != 0 {
					t.Fatalf("rtpd url: exit %d, %s", code, stderr)
				}
				out := filepath.Join(t.TempDir(), "hello.bin")
				if _, stderr, code := rtpdtest.Run(t, "ip", "netns", "exec", ns, rtpdtest.RTPGet, strings.TrimSpace(url), "--pin", fp[1], "-q", "-o", out); code != 0 {
					t.Errorf("fetching from %s: exit %d, %s", local, code, stderr)
				} else if b, _ := os.ReadFile(out); !bytes.Equal(b, data) {
					t.Errorf("fetched from %s: bytes differ", local)
				}
			}
			cmd.Process.Signal(syscall.SIGTERM)
			<-exited
			if code := cmd.ProcessState.ExitCode(); code != 0 {
				t.Errorf("exit %d after SIGTERM, want 0 (a clean stop)", code)
			}
		})
	}
}

// TestServiceUnit checks contrib/rtpd.service with systemd-analyze, when
// installed: verify (syntax, the binary, man:rtpd(1) with the page make man
// writes) and security (exposure level at most 2.0 of 10).
func TestServiceUnit(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("no systemd-analyze (Debian: apt-get install systemd)")
	}
	unit, err := os.ReadFile("../../contrib/rtpd.service")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "rtpd.service")
	os.WriteFile(path, bytes.ReplaceAll(unit, []byte("/usr/local/bin/rtpd"), []byte(rtpdtest.RTPD)), 0o644)
	page, err := mangen.Render(newApp(), manExtra)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "man", "man1"), 0o755)
	os.WriteFile(filepath.Join(dir, "man", "man1", "rtpd.1"), []byte(page), 0o644)

	cmd := exec.Command("systemd-analyze", "verify", path)
	cmd.Env = append(os.Environ(), "MANPATH="+filepath.Join(dir, "man"), "SYSTEMD_LOG_LEVEL=notice")
	if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err := exec.Command("systemd-analyze", "security", "--offline=yes", path).CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for rtpd.service: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Skipf("systemd-analyze security --offline: %v\n%s", err, out) // systemd < 250
	}
	t.Logf("systemd-analyze security: exposure %s", m[1])
	if level, _ := strconv.ParseFloat(string(m[1]), 64); level > 2.0 {
		t.Errorf("exposure level %s, want at most 2.0:\n%s", m[1], out)
	}
}
