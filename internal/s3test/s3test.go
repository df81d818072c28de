// Package s3test runs a real S3 server for tests and benchmarks: versitygw
// (Apache-2.0, Go), pinned at Version, serving a folder of the test's own
// on a loopback port with credentials made up for the run.
//
//	gw := s3test.Start(t)            // fails the test if versitygw is missing
//	gw.MakeBucket(t, "blobs")
//	gw.Put(t, "blobs", "a/b.bin", data)
//	// rtpd serve --s3-endpoint gw.Endpoint ... s3://blobs/a
//	gw.Stop()                        // the bucket is unreachable...
//	gw.Restart(t)                    // ...and back, same port, same objects
//
// versitygw is installed by `make versitygw` (`make deps` runs it). A test
// that needs it fails when it is missing, unless SkipEnv is set to 1: then
// it is skipped, with a message saying so. CI does not set it.
package s3test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

const (
	// Version is the versitygw release the tests are written against.
	Version = "v1.8.0"
	// Install is how to get it.
	Install = "go install github.com/versity/versitygw/cmd/versitygw@" + Version
	// SkipEnv, set to 1, lets tests that need versitygw skip when it is
	// not installed, instead of failing (as it lets the Gemini interop
	// tests skip molly-brown).
	SkipEnv = "RTP_SKIP_INTEROP"
)

// Binary returns the path of versitygw: where go install puts it (GOBIN,
// else GOPATH/bin; `make versitygw` installs Version there), else on PATH.
func Binary() (string, error) {
	var dirs []string
	if gobin := os.Getenv("GOBIN"); gobin != "" {
		dirs = append(dirs, gobin)
	}
	if out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output(); err == nil {
		lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
		if len(lines) >= 1 && len(bytes.TrimSpace(lines[0])) > 0 {
			dirs = append(dirs, string(bytes.TrimSpace(lines[0])))
		}
		if len(lines) >= 2 {
			for _, p := range filepath.SplitList(string(bytes.TrimSpace(lines[1]))) {
				dirs = append(dirs, filepath.Join(p, "bin"))
			}
		}
	}
	for _, d := range dirs {
		p := filepath.Join(d, "versitygw")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("versitygw %s is not installed: run `make versitygw` (%s)", Version, Install)
}

// Server is a running versitygw serving Dir: each bucket a folder in it.
type Server struct {
	Endpoint  string // http://127.0.0.1:PORT
	AccessKey string
	SecretKey string
	Dir       string
	Port      int

	bin  string
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	log  bytes.Buffer
}

// Start runs versitygw on a free loopback port over a temporary folder,
// with a random access key and secret, and stops it when t ends. It fails
// t when versitygw is missing, or skips t if SkipEnv is 1.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		if os.Getenv(SkipEnv) == "1" {
			t.Skipf("%v; skipped because %s=1", err, SkipEnv)
		}
		t.Fatalf("%v (or set %s=1 to skip the tests that need it)", err, SkipEnv)
	}
	s, err := Launch(bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Launch runs bin (versitygw) over dir on a free loopback port and waits
// until it answers. The caller stops it.
func Launch(bin, dir string) (*Server, error) {
	s := &Server{Dir: dir, bin: bin, AccessKey: "rtp" + randHex(8), SecretKey: randHex(20)}
	for range 20 {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s.Port = port
		s.Endpoint = "http://127.0.0.1:" + strconv.Itoa(port)
		if err = s.start(); err == nil {
			return s, nil
		}
		if !errors.Is(err, errExited) {
			return nil, err
		}
		// Another process took the port: draw again.
	}
	return nil, fmt.Errorf("versitygw would not start:\n%s", s.Log())
}

var errExited = errors.New("versitygw exited")

func (s *Server) start() error {
	cmd := exec.Command(s.bin, "--port", "127.0.0.1:"+strconv.Itoa(s.Port), "posix", s.Dir)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY_ID="+s.AccessKey, "ROOT_SECRET_ACCESS_KEY="+s.SecretKey)
	cmd.Stdout = &lockedWriter{s: s}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	// Up when the port takes connections, or gone.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return fmt.Errorf("%w: %s", errExited, s.Log())
		default:
		}
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(s.Port), time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Stop()
	return fmt.Errorf("versitygw did not listen on port %d within 30 s:\n%s", s.Port, s.Log())
}

// Stop kills versitygw and waits for it to exit: the bucket is then
// unreachable (connections refused). The objects stay in Dir.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// Restart starts versitygw again on the same port, folder and keys.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
}

// Pid returns the process id of the running versitygw, or 0.
func (s *Server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Log returns what versitygw printed.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

type lockedWriter struct{ s *Server }

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	if w.s.log.Len() < 1<<20 {
		w.s.log.Write(p)
	}
	return len(p), nil
}

// Client returns an S3 client of the server, path-style, as root.
func (s *Server) Client() (*minio.Core, error) {
	return minio.NewCore("127.0.0.1:"+strconv.Itoa(s.Port), &minio.Options{
		Creds:        credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		BucketLookup: minio.BucketLookupPath,
		Region:       "us-east-1",
	})
}

func (s *Server) client(t testing.TB) *minio.Core {
	t.Helper()
	c, err := s.Client()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// MakeBucket creates a bucket.
func (s *Server) MakeBucket(t testing.TB, bucket string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.client(t).MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("make bucket %s: %v", bucket, err)
	}
}

// Put stores data under key, replacing what was there.
func (s *Server) Put(t testing.TB, bucket, key string, data []byte) {
	t.Helper()
	if err := s.PutE(bucket, key, data); err != nil {
		t.Fatal(err)
	}
}

// PutE is Put returning its error, for goroutines.
func (s *Server) PutE(bucket, key string, data []byte) error {
	c, err := s.Client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	_, err = c.Client.PutObject(ctx, bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{})
	if err != nil {
		return fmt.Errorf("put %s/%s: %w", bucket, key, err)
	}
	return nil
}

// Remove deletes key.
func (s *Server) Remove(t testing.TB, bucket, key string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.client(t).RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{}); err != nil {
		t.Fatalf("remove %s/%s: %v", bucket, key, err)
	}
}

// SecretFile writes the secret key to a file of t's (mode 0600) for
// rtpd's --s3-secret-access-key-file.
func (s *Server) SecretFile(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s3-secret")
	if err := os.WriteFile(p, []byte(s.SecretKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// freePort returns a loopback TCP port free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
