package gemini

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gmi "git.sr.ht/~adnano/go-gemini"
	"lukechampine.com/blake3"

	"github.com/rtp-project/rtp/internal/rtpdtest"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/server"
	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/urn"
)

// newCert makes a self-signed certificate in a folder of its own.
func newCert(t *testing.T) tls.Certificate {
	t.Helper()
	cert, _, err := server.LoadOrCreateCert("", "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// serveFace serves dir's Gemini face on loopback at addr ("127.0.0.1:0" for
// any port) and returns the port. It stops when the test ends.
func serveFace(t *testing.T, dir, addr string, cert tls.Certificate) (*store.Disk, int) {
	t.Helper()
	disk := rtpdtest.IndexedDisk(t, dir)
	s := NewServer(ServerConfig{
		Index:     disk,
		Cert:      cert,
		Advertise: []rtpurl.Dial{{Proto: rtpurl.TCP, Host: "0.0.0.0", Port: 7777}, {Proto: rtpurl.QUIC, Host: "mirror.example.net", Port: 7777}},
	})
	host, port, _ := net.SplitHostPort(addr)
	var p int
	fmt.Sscan(port, &p)
	ln, err := s.Listen(rtpurl.Dial{Proto: rtpurl.TCP, Host: host, Port: p})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { s.Serve(context.Background(), ln); close(done) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		<-done
	})
	return disk, ln.Addr().(*net.TCPAddr).Port
}

// raw sends one request line over TLS and returns the whole response.
func raw(t *testing.T, port int, line string) string {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", fmt.Sprintf("127.0.0.1:%d", port), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "%s\r\n", line)
	b, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestFace(t *testing.T) {
	dir := t.TempDir()
	data := []byte("the bytes of a.iso\n")
	os.MkdirAll(filepath.Join(dir, "isos", "old"), 0o755)
	os.WriteFile(filepath.Join(dir, "isos", "a.iso"), data, 0o644)
	os.WriteFile(filepath.Join(dir, "isos", "old", "b.iso"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "isos", "line\nbreak"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "top"), nil, 0o644)
	os.MkdirAll(filepath.Join(dir, ".hidden"), 0o755)
	os.WriteFile(filepath.Join(dir, ".hidden", "key"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "isos", ".dot"), nil, 0o644)
	_, port := serveFace(t, dir, "127.0.0.1:0", newCert(t))
	name := fmt.Sprintf("gemini+rtp://localhost:%d/isos/a.iso", port)

	got := raw(t, port, name)
	meta, ok := strings.CutPrefix(strings.TrimSuffix(got, "\r\n"), "31 ")
	if !ok {
		t.Fatalf("file: %q, want 31", got)
	}
	u, err := rtpurl.Parse(meta)
	if err != nil {
		t.Fatal(err)
	}
	want := "tcp!localhost!7777 quic!mirror.example.net!7777"
	if s := fmt.Sprint(u.Servers[0], " ", u.Servers[1]); s != want || u.Name != "a.iso" || u.Length != int64(len(data)) {
		t.Errorf("rtp: URL %+v, want servers %s, dn a.iso", u, want)
	}
	if len(u.Hashes) != 1 || u.Hashes[0] != urn.New(urn.BLAKE3, blake3.Sum256(data)) {
		t.Errorf("hashes %v, want the blake3 urn alone", u.Hashes)
	}
	if again := raw(t, port, strings.Replace(name, "gemini+rtp:", "gemini:", 1)); again != got {
		t.Errorf("gemini:// answered %q, gemini+rtp:// %q", again, got)
	}

	list := raw(t, port, fmt.Sprintf("gemini+rtp://localhost:%d/isos", port))
	for _, line := range []string{
		"20 text/gemini\r\n# /isos/\n",
		fmt.Sprintf("\n=> gemini+rtp://localhost:%d ..\n", port),
		fmt.Sprintf("\n=> gemini+rtp://localhost:%d/isos/a.iso a.iso (19 bytes)\n%s\n", port, meta),
		fmt.Sprintf("\n=> gemini+rtp://localhost:%d/isos/line%%0Abreak line\uFFFDbreak (0 bytes)\n", port),
		fmt.Sprintf("\n=> gemini+rtp://localhost:%d/isos/old old/\n", port),
	} {
		if !strings.Contains(list, line) {
			t.Errorf("listing lacks %q:\n%s", line, list)
		}
	}
	if strings.Contains(list, "b.iso") || strings.Contains(list, "top") || strings.Contains(list, ".dot") {
		t.Errorf("listing shows what is not directly in the folder:\n%s", list)
	}
	if top := raw(t, port, fmt.Sprintf("gemini+rtp://localhost:%d", port)); !strings.HasPrefix(top, "20 text/gemini\r\n# /\n") || !strings.Contains(top, "/top top (0 bytes)") || strings.Contains(top, "hidden") {
		t.Errorf("top listing:\n%s", top)
	}

	for line, status := range map[string]string{
		fmt.Sprintf("gemini://localhost:%d/nope", port):             "51 ",
		fmt.Sprintf("gemini://localhost:%d/.hidden/key", port):      "51 ", // dot-files are not served (store.Options.Hidden)
		fmt.Sprintf("gemini://localhost:%d/.hidden/", port):         "51 ",
		fmt.Sprintf("gemini://localhost:%d/isos/a.iso/", port):      "51 ",
		fmt.Sprintf("gemini://localhost:%d/../../etc/passwd", port): "51 ",
		"https://localhost/isos/a.iso":                              "53 ",
		"gemini://u@localhost/isos/a.iso":                           "59 ",
		"gemini:///isos/a.iso":                                      "59 ",
		strings.Repeat("x", 1100):                                   "59 ",
	} {
		if got := raw(t, port, line); !strings.HasPrefix(got, status) {
			t.Errorf("%.60s: %q, want %s", line, got, status)
		}
	}
}

// geminiServer runs go-gemini's server with h on a loopback port.
func geminiServer(t *testing.T, cert tls.Certificate, h gmi.HandlerFunc) int {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &gmi.Server{Handler: h, ReadTimeout: 5 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); srv.Close(); <-done })
	return ln.Addr().(*net.TCPAddr).Port
}

func TestResolve(t *testing.T) {
	const target = "rtp:?u=urn:sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855&l=0&s=tcp!127.0.0.1!7777"
	var mu sync.Mutex
	var seen []string
	requests := func() []string { mu.Lock(); defer mu.Unlock(); s := seen; seen = nil; return s }
	port := geminiServer(t, newCert(t), func(_ context.Context, w gmi.ResponseWriter, r *gmi.Request) {
		mu.Lock()
		seen = append(seen, r.URL.String())
		mu.Unlock()
		switch {
		case r.URL.Scheme != "gemini":
			w.WriteHeader(gmi.StatusProxyRequestRefused, "No proxying to non-Gemini content!")
		case r.URL.Path == "/hop":
			w.WriteHeader(gmi.StatusRedirect, "/file")
		case r.URL.Path == "/file":
			w.WriteHeader(gmi.StatusPermanentRedirect, target)
		case r.URL.Path == "/loop":
			w.WriteHeader(gmi.StatusRedirect, r.URL.String())
		case r.URL.Path == "/away":
			w.WriteHeader(gmi.StatusRedirect, "https://example.org/file.iso")
		case r.URL.Path == "/badrtp":
			w.WriteHeader(gmi.StatusRedirect, "rtp:?u=urn:sha256:abc&s=tcp!h")
		default:
			w.WriteHeader(gmi.StatusNotFound, "Not found!")
		}
	})
	kh, err := OpenKnownHosts(filepath.Join(t.TempDir(), "rtpget", "known_hosts"))
	if err != nil {
		t.Fatal(err)
	}
	r := &Resolver{KnownHosts: kh, Timeout: 10 * time.Second}
	ctx := context.Background()
	base := fmt.Sprintf("localhost:%d", port)

	got, u, err := r.Resolve(ctx, "gemini+rtp://"+base+"/hop")
	if err != nil || got != target || u.Length != 0 {
		t.Fatalf("Resolve(hop) = %q, %v, %v", got, u, err)
	}
	want := []string{"gemini+rtp://" + base + "/hop", "gemini://" + base + "/hop", "gemini://" + base + "/file"}
	if got := requests(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("requests %q, want %q", got, want)
	}

	if _, _, err := r.Resolve(ctx, "gemini://"+base+"/loop"); !errors.Is(err, ErrTooManyRedirects) || !strings.Contains(err.Error(), "after 5") {
		t.Errorf("loop: %v", err)
	}
	if n := len(requests()); n != MaxRedirects {
		t.Errorf("loop: %d requests, want %d", n, MaxRedirects)
	}
	if _, _, err := r.Resolve(ctx, "gemini://"+base+"/away"); !errors.Is(err, ErrNotRTP) || !strings.Contains(err.Error(), "https://example.org/file.iso") {
		t.Errorf("away: %v", err)
	}
	if _, _, err := r.Resolve(ctx, "gemini://"+base+"/badrtp"); !errors.Is(err, rtpurl.ErrBadURL) {
		t.Errorf("badrtp: %v", err)
	}
	var se *StatusError
	if _, _, err := r.Resolve(ctx, "gemini://"+base+"/nope"); !errors.As(err, &se) || se.Status != 51 || se.Meta != "Not found!" {
		t.Errorf("nope: %v", err)
	}
	// Only a gemini+rtp:// request is retried on 53, and only once.
	if _, _, err := r.Resolve(ctx, "gemini+rtp://"+base+"/nope"); !errors.As(err, &se) || se.Status != 51 {
		t.Errorf("gemini+rtp nope: %v", err)
	}

	// The first use pinned the certificate; another one on the same host
	// and port is refused, naming the file.
	pinned, _ := os.ReadFile(kh.Path())
	if lines := strings.Split(strings.TrimSpace(string(pinned)), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], base+" sha256 ") {
		t.Fatalf("known_hosts: %q", pinned)
	}
	other := geminiServer(t, newCert(t), func(_ context.Context, w gmi.ResponseWriter, r *gmi.Request) {
		w.WriteHeader(gmi.StatusPermanentRedirect, target)
	})
	kh2, _ := OpenKnownHosts(kh.Path())
	os.WriteFile(kh.Path(), []byte(strings.Replace(string(pinned), base, fmt.Sprintf("localhost:%d", other), 1)), 0o600)
	kh3, _ := OpenKnownHosts(kh.Path())
	_, _, err = (&Resolver{KnownHosts: kh3}).Resolve(ctx, fmt.Sprintf("gemini://localhost:%d/", other))
	var cc *CertChangedError
	if !errors.As(err, &cc) || !errors.Is(err, ErrCertChanged) || !strings.Contains(err.Error(), kh.Path()) {
		t.Errorf("changed certificate: %v", err)
	}
	// The file as it was read before the edit still trusts the new server on first use.
	if _, _, err := (&Resolver{KnownHosts: kh2}).Resolve(ctx, fmt.Sprintf("gemini://localhost:%d/", other)); err != nil {
		t.Errorf("first use: %v", err)
	}
	if _, _, err := (&Resolver{}).Resolve(ctx, fmt.Sprintf("gemini://localhost:%d/", other)); err != nil {
		t.Errorf("no known hosts: %v", err)
	}
}

func TestKnownHostsFile(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", "/cfg")
	if p, err := DefaultKnownHosts(); err != nil || p != "/cfg/rtpget/known_hosts" {
		t.Errorf("DefaultKnownHosts() = %q, %v", p, err)
	}
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("HOME", "/home/x")
	if p, err := DefaultKnownHosts(); err != nil || p != "/home/x/.config/rtpget/known_hosts" {
		t.Errorf("DefaultKnownHosts() without XDG_CONFIG_HOME = %q, %v", p, err)
	}
	path := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(path, []byte("garbage line\n\nold.example sha1 AAAA\n"), 0o600)
	kh, err := OpenKnownHosts(path)
	if err != nil {
		t.Fatal(err)
	}
	a, b := newCert(t), newCert(t)
	ca, cb := leaf(t, a), leaf(t, b)
	if err := kh.Check("h", ca); err != nil {
		t.Fatal(err)
	}
	if err := kh.Check("h", ca); err != nil {
		t.Fatal(err)
	}
	if err := kh.Check("h", cb); !errors.Is(err, ErrCertChanged) {
		t.Fatalf("changed: %v", err)
	}
	f, _ := os.Open(path)
	defer f.Close()
	var lines []string
	for sc := bufio.NewScanner(f); sc.Scan(); {
		lines = append(lines, sc.Text())
	}
	if len(lines) != 4 || !strings.HasPrefix(lines[3], "h sha256 ") {
		t.Errorf("file: %q", lines)
	}
}

func leaf(t *testing.T, c tls.Certificate) *x509.Certificate {
	t.Helper()
	x, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return x
}
