package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rtp-project/rtp/internal/rtpdtest"
	"github.com/rtp-project/rtp/server"
)

// molly is a molly-brown process, a Gemini server nobody here wrote,
// serving a folder of CGI scripts on a loopback port with a certificate
// made by the test.
type molly struct {
	Port   int
	cgiDir string
	access string // its access log: time, client, status, URL per line

	mu  sync.Mutex
	out bytes.Buffer
}

// startMolly starts molly-brown for the test, and kills it when the test
// ends. It fails the test when molly-brown is not installed, unless
// RTP_SKIP_INTEROP=1 says to skip it.
func startMolly(t *testing.T) *molly {
	t.Helper()
	if os.Getenv("RTP_SKIP_INTEROP") == "1" {
		t.Skip("RTP_SKIP_INTEROP=1: not running the molly-brown interop test")
	}
	bin, err := exec.LookPath("molly-brown")
	if err != nil {
		t.Fatal("molly-brown is not installed: run `make deps` (Debian package molly-brown), or set RTP_SKIP_INTEROP=1 to skip the Gemini interop tests")
	}
	dir := t.TempDir()
	// A self-signed certificate for localhost, made here.
	if _, _, err := server.LoadOrCreateCert("", "", dir); err != nil {
		t.Fatal(err)
	}
	m := &molly{
		Port:   rtpdtest.FreePort(t),
		cgiDir: filepath.Join(dir, "docs", "cgi-bin"),
		access: filepath.Join(dir, "access.log"),
	}
	if err := os.MkdirAll(m.cgiDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// molly-brown binds every address at Port; the tests reach it on loopback.
	conf := fmt.Sprintf("Port = %d\nHostname = \"localhost\"\nCertPath = %q\nKeyPath = %q\nDocBase = %q\nAccessLog = %q\nErrorLog = \"-\"\nCGIPaths = [%q]\n",
		m.Port, filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "docs"), m.access, m.cgiDir+"/")
	confFile := filepath.Join(dir, "molly.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", confFile)
	cmd.Stdout, cmd.Stderr = m, m
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		select {
		case <-done:
			t.Fatalf("molly-brown exited:\n%s", m.log())
		default:
		}
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", m.Port), time.Second); err == nil {
			c.Close()
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("molly-brown not listening on %d after 10 s:\n%s", m.Port, m.log())
		}
	}
}

// Write collects molly-brown's output.
func (m *molly) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.out.Write(p)
}

func (m *molly) log() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.out.String()
}

// cgi installs /cgi-bin/NAME, a script that answers with the header line.
func (m *molly) cgi(t *testing.T, name, header string) {
	t.Helper()
	resp := filepath.Join(m.cgiDir, "..", "..", name+".response") // outside DocBase
	if err := os.WriteFile(resp, []byte(header+"\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf("#!/bin/sh\nexec /bin/cat '%s'\n", resp)
	if err := os.WriteFile(filepath.Join(m.cgiDir, name), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

// requests returns the access log's status and URL pairs for URLs ending
// in suffix, in order.
func (m *molly) requests(t *testing.T, suffix string) []string {
	t.Helper()
	b, err := os.ReadFile(m.access)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) >= 4 && strings.HasSuffix(f[3], suffix) {
			got = append(got, f[2]+" "+f[3])
		}
	}
	return got
}
