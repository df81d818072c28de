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
//
// Another engine, by hand: with EngineEnv=seaweedfs the same tests run
// against SeaweedFS (`weed mini`: master, volume server, filer and S3
// gateway in one process, a real volume layer underneath) from the weed
// binary named by SeaweedBinEnv, else `weed` on PATH. It listens on free
// loopback ports below the ephemeral range, keeps its data, logs and
// options in the test's folder, takes the made-up keys as its admin
// identity (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in its
// environment), and counts as up once a signed ListBuckets succeeds. `make
// test-seaweedfs` runs the S3 tests that way; CI does not. Unlike
// versitygw's posix backend, SeaweedFS holds both "a" and "a/b" as keys:
// PrefixKeys says which a test has.
package s3test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
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

	// EngineEnv chooses the S3 server: Versitygw (the default, CI's) or
	// SeaweedFS.
	EngineEnv = "RTP_S3_ENGINE"
	// SeaweedBinEnv is the path of SeaweedFS's weed binary.
	SeaweedBinEnv = "RTP_SEAWEED_BIN"

	Versitygw = "versitygw"
	SeaweedFS = "seaweedfs"
)

// Engine returns the S3 server EngineEnv chooses, Versitygw when unset.
func Engine() (string, error) {
	switch e := os.Getenv(EngineEnv); e {
	case "", Versitygw:
		return Versitygw, nil
	case SeaweedFS:
		return SeaweedFS, nil
	default:
		return "", fmt.Errorf("%s=%q: want %s or %s", EngineEnv, e, Versitygw, SeaweedFS)
	}
}

// Binary returns the path of the engine's server: for versitygw, where go
// install puts it (GOBIN, else GOPATH/bin; `make versitygw` installs
// Version there), else on PATH; for SeaweedFS, SeaweedBinEnv, else weed on
// PATH.
func Binary() (string, error) {
	engine, err := Engine()
	if err != nil {
		return "", err
	}
	if engine == SeaweedFS {
		if p := os.Getenv(SeaweedBinEnv); p != "" {
			if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
				return "", fmt.Errorf("%s=%s: not a file", SeaweedBinEnv, p)
			}
			return p, nil
		}
		if p, err := exec.LookPath("weed"); err == nil {
			return p, nil
		}
		return "", fmt.Errorf("SeaweedFS's weed is not on PATH: set %s to its path", SeaweedBinEnv)
	}
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

// Server is a running S3 server (versitygw, or SeaweedFS) keeping its
// buckets in Dir.
type Server struct {
	Endpoint  string // http://127.0.0.1:PORT
	AccessKey string
	SecretKey string
	Dir       string
	Port      int
	Engine    string // Versitygw or SeaweedFS
	// PrefixKeys is true when the bucket can hold both "a" and "a/b" as
	// keys, as real S3 does (SeaweedFS); versitygw's posix backend cannot:
	// "a" would be a file and a folder.
	PrefixKeys bool

	bin   string
	ports []int // SeaweedFS's other listeners: master, volume, filer, admin, gRPC
	mu    sync.Mutex
	cmd   *exec.Cmd
	done  chan struct{}
	log   bytes.Buffer
}

// Start runs the engine's server on a free loopback port over a temporary
// folder, with a random access key and secret, and stops it when t ends.
// It fails t when the server is missing, or skips t if SkipEnv is 1.
func Start(t testing.TB) *Server {
	t.Helper()
	if _, err := Engine(); err != nil {
		t.Fatal(err)
	}
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

// Launch runs bin, the engine's server, over dir on a free loopback port
// and waits until it answers. The caller stops it.
func Launch(bin, dir string) (*Server, error) {
	engine, err := Engine()
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, bin: bin, Engine: engine, PrefixKeys: engine == SeaweedFS, AccessKey: "rtp" + randHex(8), SecretKey: randHex(20)}
	for range 20 {
		if err := s.drawPorts(); err != nil {
			return nil, err
		}
		if err = s.start(); err == nil {
			return s, nil
		}
		if !errors.Is(err, errExited) {
			return nil, err
		}
		// Another process took a port: draw again.
	}
	return nil, fmt.Errorf("%s would not start:\n%s", engine, s.Log())
}

var errExited = errors.New("the S3 server exited")

// drawPorts picks the server's ports: one for versitygw; for SeaweedFS
// eleven, below the ephemeral range, so that its own outgoing connections
// do not take one before it listens there.
func (s *Server) drawPorts() error {
	if s.Engine != SeaweedFS {
		port, err := freePort()
		s.Port = port
		s.Endpoint = "http://127.0.0.1:" + strconv.Itoa(port)
		return err
	}
	ports := make([]int, 0, 11)
	seen := map[int]bool{}
	for tries := 0; len(ports) < cap(ports); tries++ {
		if tries > 1000 {
			return errors.New("no free loopback ports for SeaweedFS")
		}
		p := 20000 + int(randUint(12000))
		if seen[p] {
			continue
		}
		seen[p] = true
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		l.Close()
		ports = append(ports, p)
	}
	s.Port, s.ports = ports[0], ports[1:]
	s.Endpoint = "http://127.0.0.1:" + strconv.Itoa(s.Port)
	return nil
}

func (s *Server) command() *exec.Cmd {
	if s.Engine != SeaweedFS {
		cmd := exec.Command(s.bin, "--port", "127.0.0.1:"+strconv.Itoa(s.Port), "posix", s.Dir)
		cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY_ID="+s.AccessKey, "ROOT_SECRET_ACCESS_KEY="+s.SecretKey)
		return cmd
	}
	p := func(i int) string { return strconv.Itoa(s.ports[i]) }
	cmd := exec.Command(s.bin, "-logdir="+filepath.Join(s.Dir, "log"), "mini",
		"-dir="+s.Dir, "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-s3.port="+strconv.Itoa(s.Port), "-s3.port.grpc="+p(0),
		"-master.port="+p(1), "-master.port.grpc="+p(2),
		"-volume.port="+p(3), "-volume.port.grpc="+p(4),
		"-filer.port="+p(5), "-filer.port.grpc="+p(6),
		"-admin.port="+p(7), "-admin.port.grpc="+p(8), "-admin.port.legacy=0",
		"-webdav.port="+p(9), "-webdav=false",
		"-s3.port.iceberg=0", "-s3.port.lance=0", "-master.telemetry=false",
		"-filer.localSocket="+s.socket("filer"), "-s3.localSocket="+s.socket("s3"))
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+s.AccessKey, "AWS_SECRET_ACCESS_KEY="+s.SecretKey)
	return cmd
}

// socket is the path of one of SeaweedFS's Unix sockets: short, as such
// paths must be, and removed by Stop.
func (s *Server) socket(name string) string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("rtp-seaweedfs-%d-%s.sock", s.Port, name))
}

// removeSockets removes the Unix sockets SeaweedFS leaves behind: those
// named by command, and those weed mini names itself after its gRPC ports.
func (s *Server) removeSockets() {
	if s.Engine != SeaweedFS {
		return
	}
	os.Remove(s.socket("filer"))
	os.Remove(s.socket("s3"))
	for i, svc := range map[int]string{0: "s3", 2: "master", 4: "volume", 6: "filer", 8: "admin"} {
		os.Remove(fmt.Sprintf("/tmp/seaweedfs-%s-grpc-%d.sock", svc, s.ports[i]))
	}
}

func (s *Server) start() error {
	cmd := s.command()
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
	// Up when the port takes connections (versitygw), or a signed
	// ListBuckets succeeds (SeaweedFS: its S3 port opens before the filer
	// behind it answers); or gone.
	limit := 30 * time.Second
	if s.Engine == SeaweedFS {
		limit = 2 * time.Minute
	}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return fmt.Errorf("%w: %s", errExited, s.Log())
		default:
		}
		if s.answers() {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Stop()
	return fmt.Errorf("%s did not answer on port %d within %s:\n%s", s.Engine, s.Port, limit, s.Log())
}

func (s *Server) answers() bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(s.Port), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	if s.Engine != SeaweedFS {
		return true
	}
	cl, err := s.Client()
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = cl.ListBuckets(ctx)
	return err == nil
}

// Stop kills the server and waits for it to exit: the bucket is then
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
	s.removeSockets()
}

// Restart starts the server again on the same port, folder and keys.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
}

// Pid returns the process id of the running server, or 0.
func (s *Server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Log returns what the server printed.
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

func randUint(n uint64) uint64 {
	var b [8]byte
	rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:]) % n
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
