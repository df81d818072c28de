package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rtp-project/rtp/internal/rtpdtest"
)

func TestVersion(t *testing.T) {
	// -v stays verbose: it is not an alias of --version.
	rtpdtest.CheckVersion(t, rtpdtest.RTPGet, "rtpget")

	// Built in a git checkout with VCS stamping (make build does), the
	// version names the commit.
	rev, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not a git checkout (%v): no revision to compare", err)
	}
	bin := filepath.Join(t.TempDir(), "rtpget")
	if out, err := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build -buildvcs=true: %v\n%s", err, out)
	}
	stdout, _, _ := rtpdtest.Run(t, bin, "--version")
	if !strings.Contains(stdout, "revision "+strings.TrimSpace(string(rev))) {
		t.Errorf("--version %q does not name revision %s", stdout, rev)
	}
}

func TestCompletion(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish"} {
		stdout, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, "--completion", sh)
		if code != 0 || !strings.Contains(stdout, "rtpget") {
			t.Errorf("--completion %s: exit %d, %q, %s", sh, code, stdout, stderr)
		}
		if sh == "fish" && !strings.Contains(stdout, "-l input-file") {
			t.Errorf("fish completion lacks --input-file:\n%s", stdout)
		}
	}
	if _, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, "--completion", "ksh"); code != 2 {
		t.Errorf("--completion ksh: exit %d, %s; want 2", code, stderr)
	}

	cases := []struct {
		words []string // what is typed, the last word being completed
		want  []string
	}{
		{[]string{"rtpget", "--ou"}, []string{"--output"}},
		{[]string{"rtpget", "-q", "--in"}, []string{"--insecure", "--input-file", "--include"}},
		{[]string{"rtpget", "--completion", ""}, []string{"bash", "zsh", "fish"}},
		{[]string{"rtpget", "-o", ""}, nil}, // the shell offers files
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	script, _, _ := rtpdtest.Run(t, rtpdtest.RTPGet, "--completion", "bash")
	for _, c := range cases {
		// What bash does on TAB: fill COMP_WORDS and call the function.
		var sb strings.Builder
		sb.WriteString(script)
		sb.WriteString("COMP_WORDS=(")
		for _, w := range c.words {
			sb.WriteString("'" + w + "' ")
		}
		sb.WriteString(")\nCOMP_CWORD=" + strconv.Itoa(len(c.words)-1) + "\n_rtpget_complete\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n")
		cmd := exec.Command("bash", "--norc", "-c", sb.String())
		cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(rtpdtest.RTPGet)+":"+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", c.words, err, out)
		}
		got := strings.Fields(string(out))
		if strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("completing %q: %q, want %q", c.words, got, c.want)
		}
	}
}

// TestVerbosity: -q nothing, default warnings only, -v info, -vv debug; all
// on stderr, nothing on stdout.
func TestVerbosity(t *testing.T) {
	blobs := t.TempDir()
	_, u := writeRandom(t, blobs, "v.bin", 3<<20)
	url := addServers(u, rtpdtest.Start(t, blobs, "--listen", "tcp!127.0.0.1!0"))
	for _, c := range []struct {
		flags    []string
		has, not string
	}{
		{[]string{"-q"}, "", "level="},
		{nil, "verified", "level=INFO"},
		{[]string{"-v"}, "level=INFO", "level=DEBUG"},
		{[]string{"-vv"}, "level=DEBUG", ""},
	} {
		out := filepath.Join(t.TempDir(), "v.bin")
		stdout, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, append(c.flags, "-o", out, url)...)
		if code != 0 || stdout != "" {
			t.Fatalf("%v: exit %d, stdout %q, stderr %s", c.flags, code, stdout, stderr)
		}
		if c.has != "" && !strings.Contains(stderr, c.has) || c.not != "" && strings.Contains(stderr, c.not) {
			t.Errorf("%v: stderr %q: want %q and not %q", c.flags, stderr, c.has, c.not)
		}
		if len(c.flags) > 0 && c.flags[0] == "-q" && stderr != "" {
			t.Errorf("-q: stderr %q", stderr)
		}
	}
}

// runStdin runs rtpget with stdin.
func runStdin(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(rtpdtest.RTPGet, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if err != nil && cmd.ProcessState == nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), cmd.ProcessState.ExitCode()
}
