package main

// A raw-bytes conformance suite for rtpd against /work/shared/wire-v1.md.
//
// It builds the real binary, serves a temporary folder over TCP, TLS and QUIC
// on 127.0.0.1, and speaks RTP/1 with hand-written byte slices: it uses
// neither the project's wire encoder nor its client, so a shared mistake in
// those cannot hide a server bug. Every case runs on every transport as the
// subtest "<proto>/<case>".

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"lukechampine.com/blake3"
)

// Settings the server is started with, and limits from wire-v1.md.
const (
	confMaxRead   = 1 << 20 // --max-read; also rtpd's default
	confMaxTokens = 1024    // rtpd's default --max-open-tokens
	confMaxURI    = 8192    // rule 7
	unlimited     = ^uint64(0)

	// opTimeout bounds every exchange, so a hang fails the case instead of
	// blocking; once a transport has hung, hangTimeout keeps the rest of
	// the suite short.
	opTimeout   = 5 * time.Second
	hangTimeout = time.Second
	// closeWithin is how soon a session must end after a rule-7 violation.
	closeWithin = 5 * time.Second
	// payloadSanity is the largest declared payload the suite will allocate.
	payloadSanity = 16 << 20
)

// Error strings, exactly as wire-v1.md writes them.
const (
	errNotFound     = "not found"
	errUnsupported  = "unsupported scheme"
	errMalformed    = "error: malformed urn"
	errUnknownToken = "error: unknown open token"
	errTokenInUse   = "error: token in use"
	errTooMany      = "error: too many open tokens"
)

// ---------------------------------------------------------------------------
// Hand-written encoding.

func le64(n uint64) []byte { return binary.LittleEndian.AppendUint64(nil, n) }

// tk returns a distinct, opaque-looking token for n < 2^48, flag bit clear.
func tk(n uint64) [8]byte {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], n)
	b[6] ^= 0xc3
	b[7] = 0x5a
	return b
}

// masked is t with the flag bit (bit 0 of byte 7) cleared.
func masked(t [8]byte) [8]byte { t[7] &^= 1; return t }

// openReq is an OPEN: the token with flag 0, the uri's length, the uri.
func openReq(tok [8]byte, uri string) []byte {
	tok[7] &^= 1
	b := append(tok[:], le64(uint64(len(uri)))...)
	return append(b, uri...)
}

// openHeader is the first 16 bytes of an OPEN declaring a uri of n bytes.
func openHeader(tok [8]byte, n uint64) []byte {
	tok[7] &^= 1
	return append(tok[:], le64(n)...)
}

// readReq is a READ: the token with flag 1, then open_token exactly as given
// (so a case can set its flag bit), offset and length.
func readReq(tok, open [8]byte, off, length uint64) []byte {
	tok[7] |= 1
	b := append(tok[:], open[:]...)
	b = append(b, le64(off)...)
	return append(b, le64(length)...)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// response is one response as read off the wire.
type response struct {
	raw     [8]byte // token field as received, flag included
	payload []byte
}

func (r response) isErr() bool    { return r.raw[7]&1 == 1 }
func (r response) token() [8]byte { return masked(r.raw) }

func (r response) String() string {
	p := r.payload
	more := ""
	if len(p) > 48 {
		p, more = p[:48], "..."
	}
	return fmt.Sprintf("token=%x is_error=%v len=%d payload=%q%s", r.raw, r.isErr(), len(r.payload), p, more)
}

func short(b []byte) string {
	if len(b) > 64 {
		return hex.EncodeToString(b[:64]) + fmt.Sprintf("...(%d bytes)", len(b))
	}
	return hex.EncodeToString(b)
}

// ---------------------------------------------------------------------------
// The server under test.

type testFile struct {
	name string
	data []byte
	sha  [32]byte
	b3   [32]byte
}

func (f *testFile) size() uint64      { return uint64(len(f.data)) }
func (f *testFile) sha256URN() string { return "urn:sha256:" + hex.EncodeToString(f.sha[:]) }
func (f *testFile) blake3URN() string { return "urn:blake3:" + hex.EncodeToString(f.b3[:]) }
func (f *testFile) sha256Upper() string {
	return "urn:sha256:" + strings.ToUpper(hex.EncodeToString(f.sha[:]))
}
func (f *testFile) blake3Upper() string {
	return "urn:blake3:" + strings.ToUpper(hex.EncodeToString(f.b3[:]))
}

type rtpdProc struct {
	empty, hello, big *testFile
	dials             map[string]string // proto -> host:port
	roots             *x509.CertPool
}

// lineLog collects rtpd's stderr and hands each line to onLine.
type lineLog struct {
	mu     sync.Mutex
	part   []byte
	lines  []string
	onLine func(string)
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.part = append(l.part, p...)
	for {
		i := bytes.IndexByte(l.part, '\n')
		if i < 0 {
			break
		}
		line := string(l.part[:i])
		l.part = l.part[i+1:]
		if len(l.lines) < 2000 {
			l.lines = append(l.lines, line)
		}
		if l.onLine != nil {
			l.onLine(line)
		}
	}
	return len(p), nil
}

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n") + string(l.part)
}

var listeningRE = regexp.MustCompile(`msg="listening on [^"]*".*\bdial=(\S+)`)

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "go"
}

// confBackend puts the test files, written to the folder dir, where rtpd
// is to serve them from, and returns rtpd serve's argument and the flags
// that backend needs. The suite checks the same things whatever it is.
type confBackend func(t *testing.T, dir string) (arg string, flags []string)

// diskBackend serves the folder itself.
func diskBackend(t *testing.T, dir string) (string, []string) { return dir, nil }

// edgeBackend serves the folder through an edge whose upstream serves it.
func edgeBackend(t *testing.T, dir string) (string, []string) { return "", edgeOfFolder(t, dir) }

// startRTPD builds rtpd, serves a fresh set of files from backend on all
// three transports and stops the process when t ends.
func startRTPD(t *testing.T, backend confBackend) *rtpdProc {
	t.Helper()
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "rtpd")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	build := exec.Command(goTool(), "build", "-o", bin, "github.com/rtp-project/rtp/cmd/rtpd")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build rtpd: %v\n%s", err, out)
	}

	// The folder served.
	dir := filepath.Join(tmp, "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	rng := mrand.New(mrand.NewChaCha8([32]byte{'r', 't', 'p', '/', '1'}))
	bigData := make([]byte, 3<<20+12345) // not a multiple of the cap
	for i := range bigData {
		bigData[i] = byte(rng.Uint32())
	}
	p := &rtpdProc{
		empty: &testFile{name: "empty", data: []byte{}},
		hello: &testFile{name: "hello.txt", data: []byte("hello, rtp/1\nthe quick brown fox\n")},
		big:   &testFile{name: "big.bin", data: bigData},
		dials: map[string]string{},
	}
	for _, f := range []*testFile{p.empty, p.hello, p.big} {
		f.sha = sha256.Sum256(f.data)
		f.b3 = blake3.Sum256(f.data)
		if err := os.WriteFile(filepath.Join(dir, f.name), f.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// A self-signed certificate for 127.0.0.1 and localhost.
	certPEM, keyPEM := selfSigned(t)
	certFile, keyFile := filepath.Join(tmp, "cert.pem"), filepath.Join(tmp, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	p.roots = x509.NewCertPool()
	if !p.roots.AppendCertsFromPEM(certPEM) {
		t.Fatal("cannot add the test certificate to a pool")
	}

	// Kill rtpd before the test binary's own timeout would, so it never
	// outlives the test.
	stopBy := time.Now().Add(time.Hour)
	if dl, ok := t.Deadline(); ok {
		stopBy = dl.Add(-10 * time.Second)
	}
	arg, flags := backend(t, dir)
	ctx, cancel := context.WithDeadline(context.Background(), stopBy)
	args := append([]string{"serve",
		"--listen", "tcp!127.0.0.1!0",
		"--listen", "tls!127.0.0.1!0",
		"--listen", "quic!127.0.0.1!0",
		"--tls-cert", certFile, "--tls-key", keyFile,
		"--max-read", fmt.Sprint(confMaxRead)},
		flags...)
	if arg != "" { // an edge takes none
		args = append(args, arg)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second // then SIGKILL
	dialc := make(chan string, 16)
	logs := &lineLog{onLine: func(line string) {
		if m := listeningRE.FindStringSubmatch(line); m != nil {
			select {
			case dialc <- m[1]:
			default:
			}
		}
	}}
	cmd.Stdout = logs
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start rtpd: %v", err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cancel()
		<-exited
		if t.Failed() {
			t.Logf("rtpd exited: %v; its log:\n%s", waitErr, logs)
		}
	})

	timeout := time.After(30 * time.Second)
	for len(p.dials) < 3 {
		select {
		case d := <-dialc:
			parts := strings.Split(d, "!")
			if len(parts) != 3 {
				t.Fatalf("rtpd logged dial %q, want proto!host!port", d)
			}
			if parts[1] != "127.0.0.1" {
				t.Fatalf("rtpd listens on %q, want 127.0.0.1 only", d)
			}
			p.dials[parts[0]] = net.JoinHostPort(parts[1], parts[2])
		case <-exited:
			t.Fatalf("rtpd exited before listening: %v\n%s", waitErr, logs)
		case <-timeout:
			t.Fatalf("rtpd did not log three listeners within 30s; got %v\n%s", p.dials, logs)
		}
	}
	for _, proto := range []string{"tcp", "tls", "quic"} {
		if p.dials[proto] == "" {
			t.Fatalf("no %s listener among %v", proto, p.dials)
		}
	}
	return p
}

func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "rtpd conformance test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})
}

// ---------------------------------------------------------------------------
// Sessions.

type transport struct {
	proto string
	addr  string
	srv   *rtpdProc
	hung  atomic.Bool // an exchange on this transport has timed out
}

// sess is one RTP/1 session: a TCP or TLS connection, or one QUIC stream.
type sess struct {
	t         *testing.T
	tr        *transport
	w         io.Writer
	br        *bufio.Reader
	setDL     func(time.Time) error
	setReadDL func(time.Time) error
	qc        *quic.Conn // QUIC only: the connection the stream is on
	closeOnce sync.Once
	closeFn   func() // graceful: the server sees the end of the session
	abort     func() // unblocks a pending Write at once
}

func (tr *transport) tlsConfig() *tls.Config {
	return &tls.Config{RootCAs: tr.srv.roots, NextProtos: []string{"rtp/1"}, ServerName: "127.0.0.1"}
}

// session dials a new connection and returns a session on it, closed when t
// ends.
func (tr *transport) session(t *testing.T) *sess {
	t.Helper()
	switch tr.proto {
	case "tcp":
		c, err := net.DialTimeout("tcp", tr.addr, 5*time.Second)
		if err != nil {
			t.Fatalf("dial tcp %s: %v", tr.addr, err)
		}
		return newNetSess(t, tr, c)
	case "tls":
		d := &net.Dialer{Timeout: 5 * time.Second}
		c, err := tls.DialWithDialer(d, "tcp", tr.addr, tr.tlsConfig())
		if err != nil {
			t.Fatalf("dial tls %s: %v", tr.addr, err)
		}
		if np := c.ConnectionState().NegotiatedProtocol; np != "rtp/1" {
			c.Close()
			t.Fatalf("tls: negotiated ALPN %q, want \"rtp/1\"", np)
		}
		return newNetSess(t, tr, c)
	case "quic":
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		qc, err := quic.DialAddr(ctx, tr.addr, tr.tlsConfig(), nil)
		if err != nil {
			t.Fatalf("dial quic %s: %v", tr.addr, err)
		}
		t.Cleanup(func() { qc.CloseWithError(0, "") })
		if np := qc.ConnectionState().TLS.NegotiatedProtocol; np != "rtp/1" {
			t.Fatalf("quic: negotiated ALPN %q, want \"rtp/1\"", np)
		}
		return newStreamSess(t, tr, qc)
	}
	t.Fatalf("unknown transport %q", tr.proto)
	return nil
}

// another returns a second session next to s: a new stream on the same QUIC
// connection, or a new connection.
func (s *sess) another(t *testing.T) *sess {
	t.Helper()
	if s.qc != nil {
		return newStreamSess(t, s.tr, s.qc)
	}
	return s.tr.session(t)
}

func newNetSess(t *testing.T, tr *transport, c net.Conn) *sess {
	s := &sess{t: t, tr: tr, w: c, br: bufio.NewReaderSize(c, 64<<10),
		setDL: c.SetDeadline, setReadDL: c.SetReadDeadline,
		closeFn: func() { c.Close() }, abort: func() { c.Close() }}
	s.arm(0)
	t.Cleanup(s.close)
	return s
}

func newStreamSess(t *testing.T, tr *transport, qc *quic.Conn) *sess {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := qc.OpenStreamSync(ctx)
	if err != nil {
		t.Fatalf("quic: open stream: %v", err)
	}
	s := &sess{t: t, tr: tr, w: st, br: bufio.NewReaderSize(st, 64<<10), qc: qc,
		setDL: st.SetDeadline, setReadDL: st.SetReadDeadline,
		closeFn: func() { st.CancelRead(0); st.Close() },
		abort:   func() { st.CancelRead(0); st.CancelWrite(0) }}
	s.arm(0)
	t.Cleanup(s.close)
	return s
}

func (s *sess) close() { s.closeOnce.Do(s.closeFn) }

// arm sets the deadline for an exchange of n responses.
func (s *sess) arm(n int) {
	d := opTimeout
	if s.tr.hung.Load() {
		d = hangTimeout
	}
	s.setDL(time.Now().Add(d + time.Duration(n)*5*time.Millisecond))
}

// noteErr notes a timeout so later exchanges wait less.
func (s *sess) noteErr(err error) {
	if isTimeout(err) {
		s.tr.hung.Store(true)
	}
}

// readResponse reads one response by hand: 8-byte token, u64 LE length,
// payload.
func (s *sess) readResponse() (response, error) {
	var hdr [16]byte
	if _, err := io.ReadFull(s.br, hdr[:]); err != nil {
		return response{}, err
	}
	var r response
	copy(r.raw[:], hdr[:8])
	n := binary.LittleEndian.Uint64(hdr[8:])
	if n > payloadSanity {
		return r, fmt.Errorf("response token=%x declares a %d-byte payload", r.raw, n)
	}
	r.payload = make([]byte, n)
	if _, err := io.ReadFull(s.br, r.payload); err != nil {
		return r, fmt.Errorf("payload of token=%x (%d bytes): %w", r.raw, n, err)
	}
	return r, nil
}

// roundTrip writes req in one Write while it reads n responses, so the
// server is never stuck behind a client that does not read.
func (s *sess) roundTrip(req []byte, n int) []response {
	s.t.Helper()
	s.arm(n)
	werr := make(chan error, 1)
	go func() { _, err := s.w.Write(req); werr <- err }()
	rs := make([]response, 0, n)
	for len(rs) < n {
		r, err := s.readResponse()
		if err != nil {
			s.noteErr(err)
			s.abort()
			<-werr
			s.t.Fatalf("%s: sent %s; reading response %d of %d: %v (got so far: %v)", s.tr.proto, short(req), len(rs)+1, n, err, rs)
		}
		rs = append(rs, r)
	}
	if err := <-werr; err != nil {
		s.t.Fatalf("%s: write: %v", s.tr.proto, err)
	}
	return rs
}

// one sends req and reads one response.
func (s *sess) one(req []byte) response {
	s.t.Helper()
	return s.roundTrip(req, 1)[0]
}

// byToken indexes responses by token and reports any token answered twice.
func byToken(t *testing.T, rs []response) map[[8]byte]response {
	t.Helper()
	m := make(map[[8]byte]response, len(rs))
	for _, r := range rs {
		if prev, dup := m[r.token()]; dup {
			t.Errorf("token %x answered twice: %v and %v", r.token(), prev, r)
		}
		m[r.token()] = r
	}
	return m
}

// get returns the response to tok from m, failing when there is none.
func get(t *testing.T, m map[[8]byte]response, tok [8]byte) response {
	t.Helper()
	r, ok := m[masked(tok)]
	if !ok {
		t.Fatalf("no response for token %x among %d responses", masked(tok), len(m))
	}
	return r
}

// expectQuiet checks that nothing more arrives within d: every request got
// exactly one response.
func (s *sess) expectQuiet(d time.Duration) {
	s.t.Helper()
	s.setReadDL(time.Now().Add(d))
	b, err := s.br.Peek(1)
	if err == nil {
		r, _ := s.readResponse()
		s.t.Errorf("unexpected extra response: %v (first byte %x)", r, b)
	} else if !isTimeout(err) {
		s.t.Errorf("waiting for silence: %v", err)
	}
	s.arm(0)
}

// expectClosed checks that the server ends the session within d, sending
// nothing first.
func (s *sess) expectClosed(d time.Duration, sent []byte) {
	s.t.Helper()
	s.setReadDL(time.Now().Add(d))
	got, err := io.ReadAll(s.br)
	switch {
	case err != nil && isTimeout(err):
		s.t.Errorf("%s: sent %s; session still open after %v (want: server closes it)", s.tr.proto, short(sent), d)
	case err != nil:
		// A reset or a canceled stream also means the server closed it.
		s.t.Logf("%s: session ended with %v", s.tr.proto, err)
	}
	if len(got) > 0 {
		s.t.Errorf("%s: sent %s; server sent %s before closing, want nothing", s.tr.proto, short(sent), short(got))
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// ---------------------------------------------------------------------------
// Checks.

func wantOK(t *testing.T, what string, r response, tok [8]byte) {
	t.Helper()
	want := masked(tok)
	if r.raw != want || len(r.payload) != 0 {
		t.Errorf("%s: got %v, want token=%x is_error=false len=0", what, r, want)
	}
}

func wantErr(t *testing.T, what string, r response, tok [8]byte, msg string) {
	t.Helper()
	want := masked(tok)
	want[7] |= 1
	if r.raw != want || string(r.payload) != msg {
		t.Errorf("%s: got %v, want token=%x is_error=true payload=%q", what, r, want, msg)
	}
}

// wantRead checks a READ's response against rule 5 and returns the number of
// bytes it carried.
func wantRead(t *testing.T, what string, r response, tok [8]byte, f *testFile, off, length uint64) int {
	t.Helper()
	want := masked(tok)
	if r.raw != want {
		t.Errorf("%s: got %v, want token=%x is_error=false", what, r, want)
		return 0
	}
	n := uint64(len(r.payload))
	if length == 0 || off >= f.size() {
		if n != 0 {
			t.Errorf("%s (%s, size %d, offset %d, length %d): payload %d bytes, want empty", what, f.name, f.size(), off, length, n)
		}
		return 0
	}
	most := min(length, confMaxRead, f.size()-off)
	if n < 1 || n > most {
		t.Errorf("%s (%s, size %d, offset %d, length %d): payload %d bytes, want 1..%d", what, f.name, f.size(), off, length, n, most)
		return int(n)
	}
	if !bytes.Equal(r.payload, f.data[off:off+n]) {
		t.Errorf("%s (%s, offset %d, length %d): %d bytes differ from the file's", what, f.name, off, length, n)
	}
	return int(n)
}

// ---------------------------------------------------------------------------
// The suite.

type confCase struct {
	name string
	run  func(t *testing.T, tr *transport)
}

func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs rtpd")
	}
	for _, b := range []struct {
		name    string
		backend confBackend
	}{{"disk", diskBackend}, {"edge", edgeBackend}} {
		t.Run(b.name, func(t *testing.T) { runConformance(t, startRTPD(t, b.backend)) })
	}
}

// runConformance runs every case on every transport of srv.
func runConformance(t *testing.T, srv *rtpdProc) {
	for _, proto := range []string{"tcp", "tls", "quic"} {
		tr := &transport{proto: proto, addr: srv.dials[proto], srv: srv}
		for _, c := range conformanceCases() {
			t.Run(proto+"/"+c.name, func(t *testing.T) { c.run(t, tr) })
		}
	}
}

func conformanceCases() []confCase {
	return []confCase{
		{"open-urn-ok", caseOpenURN},
		{"open-not-found", caseOpenNotFound},
		{"open-malformed-urn", caseOpenMalformed},
		{"open-unsupported-scheme", caseOpenUnsupported},
		{"open-token-in-use", caseTokenInUse},
		{"open-token-in-use-pipelined", caseTokenInUsePipelined},
		{"open-reuse-failed-token", caseReuseFailedToken},
		{"open-too-many-tokens", caseTooManyTokens},
		{"open-failed-opens-hold-no-token", caseFailedOpensHoldNoToken},
		{"read-bytes", caseReadBytes},
		{"read-at-or-past-end", caseReadPastEnd},
		{"read-length-zero", caseReadLengthZero},
		{"read-unlimited", caseReadUnlimited},
		{"read-length-over-cap", caseReadOverCap},
		{"read-empty-file", caseReadEmptyFile},
		{"read-two-tokens-one-file", caseTwoTokensOneFile},
		{"read-pipelined-behind-open", caseReadPipelined},
		{"read-behind-failed-open", caseReadBehindFailedOpen},
		{"read-unknown-open-token", caseReadUnknownToken},
		{"read-open-token-flag-ignored", caseReadOpenTokenFlag},
		{"read-many-pipelined", caseManyPipelined},
		{"token-echo", caseTokenEcho},
		{"session-token-scope", caseTokenScope},
		{"session-parallel", caseParallelSessions},
		{"session-trickled-bytes", caseTrickled},
		{"uri-too-long-closes-session", caseURITooLong},
		{"uri-8192-bytes-answered", caseURI8192},
	}
}

// Rule 2, 3: OPEN of a served urn, either kind, any hex case, is OK with an
// empty payload, and names the right bytes.
func caseOpenURN(t *testing.T, tr *transport) {
	mixed := func(s string) string {
		b := []byte(s)
		for i := len("urn:xxxxxx:"); i < len(b); i += 2 {
			if b[i] >= 'a' && b[i] <= 'f' {
				b[i] -= 'a' - 'A'
			}
		}
		return string(b)
	}
	for _, f := range []*testFile{tr.srv.empty, tr.srv.hello, tr.srv.big} {
		for _, row := range []struct{ name, uri string }{
			{"sha256-lower", f.sha256URN()},
			{"sha256-upper", f.sha256Upper()},
			{"sha256-mixed", mixed(f.sha256URN())},
			{"blake3-lower", f.blake3URN()},
			{"blake3-upper", f.blake3Upper()},
			{"blake3-mixed", mixed(f.blake3URN())},
		} {
			t.Run(row.name+"/"+f.name, func(t *testing.T) {
				s := tr.session(t)
				o, r := tk(1), tk(2)
				wantOK(t, "OPEN "+row.uri, s.one(openReq(o, row.uri)), o)
				wantRead(t, "READ after OPEN "+row.uri, s.one(readReq(r, o, 0, 64)), r, f, 0, 64)
			})
		}
	}
}

// Rule 2: an unknown hash is "not found".
func caseOpenNotFound(t *testing.T, tr *transport) {
	big := tr.srv.big
	zero := strings.Repeat("0", 64)
	for _, row := range []struct{ name, uri string }{
		{"sha256-zero", "urn:sha256:" + zero},
		{"blake3-zero", "urn:blake3:" + zero},
		{"sha256-upper", "urn:sha256:" + strings.Repeat("AB", 32)},
		// The right digest under the wrong kind names nothing.
		{"sha256-of-blake3-digest", "urn:sha256:" + hex.EncodeToString(big.b3[:])},
		{"blake3-of-sha256-digest", "urn:blake3:" + hex.EncodeToString(big.sha[:])},
	} {
		t.Run(row.name, func(t *testing.T) {
			s := tr.session(t)
			o := tk(7)
			wantErr(t, "OPEN "+row.uri, s.one(openReq(o, row.uri)), o, errNotFound)
		})
	}
}

// Rule 3: a urn of a known kind that is not 64 hex digits.
func caseOpenMalformed(t *testing.T, tr *transport) {
	h := hex.EncodeToString(tr.srv.hello.sha[:])
	b := hex.EncodeToString(tr.srv.hello.b3[:])
	for _, row := range []struct{ name, uri string }{
		{"sha256-63-hex", "urn:sha256:" + h[:63]},
		{"sha256-65-hex", "urn:sha256:" + h + "0"},
		{"sha256-128-hex", "urn:sha256:" + h + h},
		{"sha256-empty", "urn:sha256:"},
		{"sha256-non-hex", "urn:sha256:" + h[:63] + "g"},
		{"sha256-space", "urn:sha256:" + h[:32] + " " + h[33:]},
		{"sha256-trailing-newline", "urn:sha256:" + h[:63] + "\n"},
		{"blake3-63-hex", "urn:blake3:" + b[:63]},
		{"blake3-non-hex", "urn:blake3:" + strings.Repeat("zz", 32)},
	} {
		t.Run(row.name, func(t *testing.T) {
			s := tr.session(t)
			o := tk(9)
			wantErr(t, fmt.Sprintf("OPEN %q", row.uri), s.one(openReq(o, row.uri)), o, errMalformed)
		})
	}
}

// Rule 3: any other scheme.
func caseOpenUnsupported(t *testing.T, tr *transport) {
	h := hex.EncodeToString(tr.srv.hello.sha[:])
	for _, row := range []struct{ name, uri string }{
		{"md5", "urn:md5:" + h[:32]},
		{"sha1", "urn:sha1:" + h[:40]},
		{"sha512", "urn:sha512:" + h + h},
		{"http", "http://x"},
		{"empty", ""},
		{"bare-hex", h},
		{"no-urn-prefix", "sha256:" + h},
		{"magnet", "magnet:?xt=urn:sha256:" + h},
		{"binary", "\x00\xff\x01urn:sha256:"},
	} {
		t.Run(row.name, func(t *testing.T) {
			s := tr.session(t)
			o := tk(11)
			wantErr(t, fmt.Sprintf("OPEN %q", row.uri), s.one(openReq(o, row.uri)), o, errUnsupported)
		})
	}
}

// Rule 6: an OPEN with a token already open fails; the earlier open is
// untouched.
func caseTokenInUse(t *testing.T, tr *transport) {
	hello, big := tr.srv.hello, tr.srv.big
	s := tr.session(t)
	o := tk(21)
	wantOK(t, "first OPEN", s.one(openReq(o, hello.sha256URN())), o)
	wantErr(t, "second OPEN, other file", s.one(openReq(o, big.blake3URN())), o, errTokenInUse)
	wantErr(t, "third OPEN, same file", s.one(openReq(o, hello.sha256URN())), o, errTokenInUse)
	wantErr(t, "fourth OPEN, unknown hash", s.one(openReq(o, "urn:sha256:"+strings.Repeat("0", 64))), o, errTokenInUse)
	r := tk(22)
	wantRead(t, "READ of the first open", s.one(readReq(r, o, 0, unlimited)), r, hello, 0, unlimited)
}

// Rule 6 with everything in one write: the READ behind the refused OPEN
// still reads the first file.
func caseTokenInUsePipelined(t *testing.T, tr *transport) {
	hello, big := tr.srv.hello, tr.srv.big
	s := tr.session(t)
	o, r1, r2 := tk(31), tk(32), tk(33)
	open2 := tk(31) // the same token, a second time
	req := cat(openReq(o, hello.blake3URN()), openReq(open2, big.sha256URN()), readReq(r1, o, 3, 10), readReq(r2, o, 0, unlimited))
	rs := s.roundTrip(req, 4)
	// The two OPENs share a token: one is OK, the other "token in use".
	var opens []response
	for _, r := range rs {
		if r.token() == masked(o) {
			opens = append(opens, r)
		}
	}
	if len(opens) != 2 {
		t.Fatalf("want 2 responses for token %x, got %v", masked(o), rs)
	}
	if opens[0].isErr() {
		opens[0], opens[1] = opens[1], opens[0]
	}
	wantOK(t, "first OPEN", opens[0], o)
	wantErr(t, "second OPEN", opens[1], o, errTokenInUse)
	m := map[[8]byte]response{}
	for _, r := range rs {
		if r.token() != masked(o) {
			m[r.token()] = r
		}
	}
	wantRead(t, "READ 1", get(t, m, r1), r1, hello, 3, 10)
	wantRead(t, "READ 2", get(t, m, r2), r2, hello, 0, unlimited)
}

// Rule 6: a failed OPEN holds no token, so its token can be opened again.
func caseReuseFailedToken(t *testing.T, tr *transport) {
	hello := tr.srv.hello
	s := tr.session(t)
	o, r := tk(41), tk(42)
	wantErr(t, "OPEN of unknown hash", s.one(openReq(o, "urn:blake3:"+strings.Repeat("1", 64))), o, errNotFound)
	wantErr(t, "OPEN of http://x", s.one(openReq(o, "http://x")), o, errUnsupported)
	wantOK(t, "OPEN reusing the failed token", s.one(openReq(o, hello.sha256URN())), o)
	wantRead(t, "READ", s.one(readReq(r, o, 0, unlimited)), r, hello, 0, unlimited)
}

// Rule 6: 1024 open tokens per session; the 1025th distinct one fails, and
// the earlier opens stay readable.
func caseTooManyTokens(t *testing.T, tr *transport) {
	f := []*testFile{tr.srv.empty, tr.srv.hello, tr.srv.big}
	s := tr.session(t)
	var req []byte
	for i := range confMaxTokens + 1 {
		ff := f[i%3]
		uri := ff.sha256URN()
		if i%2 == 1 {
			uri = ff.blake3URN()
		}
		req = append(req, openReq(tk(uint64(1000+i)), uri)...)
	}
	last := tk(uint64(1000 + confMaxTokens))
	rBehind, rFirst, rMid := tk(5001), tk(5002), tk(5003)
	req = append(req, readReq(rBehind, last, 0, 10)...)
	req = append(req, readReq(rFirst, tk(1001), 0, unlimited)...)   // hello
	req = append(req, readReq(rMid, tk(1002+3*100), 1000, 4096)...) // big
	m := byToken(t, s.roundTrip(req, confMaxTokens+4))
	for i := range confMaxTokens {
		o := tk(uint64(1000 + i))
		wantOK(t, fmt.Sprintf("OPEN #%d", i+1), get(t, m, o), o)
	}
	wantErr(t, fmt.Sprintf("OPEN #%d", confMaxTokens+1), get(t, m, last), last, errTooMany)
	wantErr(t, "READ pipelined behind the refused OPEN", get(t, m, rBehind), rBehind, errTooMany)
	wantRead(t, "READ of OPEN #2", get(t, m, rFirst), rFirst, tr.srv.hello, 0, unlimited)
	wantRead(t, "READ of OPEN #303", get(t, m, rMid), rMid, tr.srv.big, 1000, 4096)

	// Still full afterwards, with another fresh token.
	o := tk(9999)
	wantErr(t, "OPEN with another fresh token", s.one(openReq(o, tr.srv.hello.blake3URN())), o, errTooMany)
}

// Rule 6: only open tokens count toward the bound; failed OPENs hold none.
func caseFailedOpensHoldNoToken(t *testing.T, tr *transport) {
	s := tr.session(t)
	var req []byte
	n := confMaxTokens + 100
	for i := range n {
		req = append(req, openReq(tk(uint64(20000+i)), fmt.Sprintf("urn:sha256:%064x", i+1))...)
	}
	m := byToken(t, s.roundTrip(req, n))
	for i := range n {
		o := tk(uint64(20000 + i))
		wantErr(t, fmt.Sprintf("OPEN #%d", i+1), get(t, m, o), o, errNotFound)
	}
	o, r := tk(7), tk(8)
	wantOK(t, "OPEN after many failed OPENs", s.one(openReq(o, tr.srv.big.sha256URN())), o)
	wantRead(t, "READ", s.one(readReq(r, o, 0, 100)), r, tr.srv.big, 0, 100)
}

// Rule 5: bytes from offset, 1..min(length, cap) of them.
func caseReadBytes(t *testing.T, tr *transport) {
	hello, big := tr.srv.hello, tr.srv.big
	s := tr.session(t)
	oh, ob := tk(51), tk(52)
	wantOK(t, "OPEN hello", s.one(openReq(oh, hello.sha256URN())), oh)
	wantOK(t, "OPEN big", s.one(openReq(ob, big.blake3URN())), ob)
	bs := big.size()
	rows := []struct {
		f           *testFile
		o           [8]byte
		off, length uint64
	}{
		{hello, oh, 0, 1}, {hello, oh, 0, 5}, {hello, oh, 7, 3}, {hello, oh, 1, 1000},
		{hello, oh, hello.size() - 1, 1}, {hello, oh, hello.size() - 1, 50},
		{big, ob, 0, 1}, {big, ob, 0, 16}, {big, ob, 1, 7}, {big, ob, 4095, 4097},
		{big, ob, 65536, 65536}, {big, ob, 123457, 300000},
		{big, ob, confMaxRead - 3, 10}, {big, ob, confMaxRead, confMaxRead},
		{big, ob, 2*confMaxRead + 17, confMaxRead - 1}, {big, ob, 3 << 20, confMaxRead},
		{big, ob, bs - 5000, 4096}, {big, ob, bs - 100, 1000}, {big, ob, bs - 1, 1}, {big, ob, bs - 1, 1 << 40},
	}
	for i, row := range rows {
		r := tk(uint64(100 + i))
		what := fmt.Sprintf("READ %s offset %d length %d", row.f.name, row.off, row.length)
		wantRead(t, what, s.one(readReq(r, row.o, row.off, row.length)), r, row.f, row.off, row.length)
	}
}

// Rule 5: offset >= size gives an empty OK payload.
func caseReadPastEnd(t *testing.T, tr *transport) {
	s := tr.session(t)
	var oks int
	for _, f := range []*testFile{tr.srv.empty, tr.srv.hello, tr.srv.big} {
		o := tk(uint64(60 + oks))
		oks++
		wantOK(t, "OPEN "+f.name, s.one(openReq(o, f.sha256URN())), o)
		for i, off := range []uint64{f.size(), f.size() + 1, f.size() + confMaxRead, 1 << 63, unlimited} {
			for j, length := range []uint64{1, 100, unlimited} {
				r := tk(uint64(1000*oks + 10*i + j))
				what := fmt.Sprintf("READ %s (size %d) offset %d length %d", f.name, f.size(), off, length)
				wantRead(t, what, s.one(readReq(r, o, off, length)), r, f, off, length)
			}
		}
	}
}

// Rule 5: length 0 gives an empty OK payload.
func caseReadLengthZero(t *testing.T, tr *transport) {
	s := tr.session(t)
	for k, f := range []*testFile{tr.srv.empty, tr.srv.hello, tr.srv.big} {
		o := tk(uint64(70 + k))
		wantOK(t, "OPEN "+f.name, s.one(openReq(o, f.blake3URN())), o)
		for i, off := range []uint64{0, 1, f.size() / 2, f.size() - min(f.size(), 1), f.size(), unlimited} {
			r := tk(uint64(700 + 10*k + i))
			what := fmt.Sprintf("READ %s offset %d length 0", f.name, off)
			wantRead(t, what, s.one(readReq(r, o, off, 0)), r, f, off, 0)
		}
	}
}

// Rule 5: length 2^64-1 gives 1..cap bytes. The spec allows fewer, but
// rtpd is expected to fill min(cap, size-offset).
func caseReadUnlimited(t *testing.T, tr *transport) {
	hello, big := tr.srv.hello, tr.srv.big
	s := tr.session(t)
	oh, ob := tk(81), tk(82)
	wantOK(t, "OPEN hello", s.one(openReq(oh, hello.blake3Upper())), oh)
	wantOK(t, "OPEN big", s.one(openReq(ob, big.sha256Upper())), ob)
	bs := big.size()
	rows := []struct {
		f   *testFile
		o   [8]byte
		off uint64
	}{
		{hello, oh, 0}, {hello, oh, 5},
		{big, ob, 0}, {big, ob, 12345}, {big, ob, confMaxRead}, {big, ob, 2 * confMaxRead},
		{big, ob, bs - confMaxRead}, {big, ob, bs - confMaxRead + 1}, {big, ob, 3 << 20}, {big, ob, bs - 1},
	}
	for i, row := range rows {
		r := tk(uint64(800 + i))
		what := fmt.Sprintf("READ %s offset %d length 2^64-1", row.f.name, row.off)
		n := wantRead(t, what, s.one(readReq(r, row.o, row.off, unlimited)), r, row.f, row.off, unlimited)
		if want := min(confMaxRead, row.f.size()-row.off); uint64(n) != want {
			t.Errorf("%s: %d bytes, want min(cap, size-offset) = %d", what, n, want)
		}
	}
}

// Rule 5: a length past the cap never gets more than the cap.
func caseReadOverCap(t *testing.T, tr *transport) {
	big := tr.srv.big
	s := tr.session(t)
	o := tk(91)
	wantOK(t, "OPEN big", s.one(openReq(o, big.sha256URN())), o)
	for i, length := range []uint64{confMaxRead + 1, 2 * confMaxRead, 1 << 32, 1 << 63, unlimited - 1} {
		r := tk(uint64(900 + i))
		what := fmt.Sprintf("READ big offset 0 length %d", length)
		wantRead(t, what, s.one(readReq(r, o, 0, length)), r, big, 0, length)
	}
}

// Rules 2, 5: the empty file opens by either urn and reads as empty.
func caseReadEmptyFile(t *testing.T, tr *transport) {
	e := tr.srv.empty
	s := tr.session(t)
	o1, o2 := tk(101), tk(102)
	rs := byToken(t, s.roundTrip(cat(openReq(o1, e.sha256URN()), openReq(o2, e.blake3URN())), 2))
	wantOK(t, "OPEN empty by sha256", get(t, rs, o1), o1)
	wantOK(t, "OPEN empty by blake3", get(t, rs, o2), o2)
	for i, o := range [][8]byte{o1, o2} {
		r := tk(uint64(110 + i))
		wantRead(t, "READ empty offset 0 length 2^64-1", s.one(readReq(r, o, 0, unlimited)), r, e, 0, unlimited)
	}
}

// Two tokens may name the same bytes, by the same or another kind.
func caseTwoTokensOneFile(t *testing.T, tr *transport) {
	big := tr.srv.big
	s := tr.session(t)
	o1, o2, o3 := tk(121), tk(122), tk(123)
	rs := byToken(t, s.roundTrip(cat(openReq(o1, big.sha256URN()), openReq(o2, big.blake3URN()), openReq(o3, big.sha256Upper())), 3))
	for _, o := range [][8]byte{o1, o2, o3} {
		wantOK(t, "OPEN big", get(t, rs, o), o)
	}
	for i, o := range [][8]byte{o3, o1, o2} {
		r := tk(uint64(130 + i))
		off := uint64(i) * 777777
		wantRead(t, "READ big", s.one(readReq(r, o, off, 50000)), r, big, off, 50000)
	}
}

// Rule 4: a READ pipelined right behind its OPEN waits for it.
func caseReadPipelined(t *testing.T, tr *transport) {
	big, hello := tr.srv.big, tr.srv.hello
	s := tr.session(t)
	o, oh := tk(141), tk(142)
	r1, r2, r3, r4 := tk(143), tk(144), tk(145), tk(146)
	req := cat(
		openReq(o, big.blake3URN()),
		readReq(r1, o, 0, 1000),
		readReq(r2, o, big.size()-10, unlimited),
		openReq(oh, hello.sha256URN()),
		readReq(r3, oh, 0, unlimited),
		readReq(r4, o, 1<<20, 1<<20),
	)
	m := byToken(t, s.roundTrip(req, 6))
	wantOK(t, "OPEN big", get(t, m, o), o)
	wantOK(t, "OPEN hello", get(t, m, oh), oh)
	wantRead(t, "READ 1", get(t, m, r1), r1, big, 0, 1000)
	wantRead(t, "READ 2", get(t, m, r2), r2, big, big.size()-10, unlimited)
	wantRead(t, "READ 3", get(t, m, r3), r3, hello, 0, unlimited)
	wantRead(t, "READ 4", get(t, m, r4), r4, big, 1<<20, 1<<20)
	s.expectQuiet(200 * time.Millisecond)
}

// Rule 4: READs pipelined behind a failed OPEN carry its error string.
func caseReadBehindFailedOpen(t *testing.T, tr *transport) {
	h := hex.EncodeToString(tr.srv.hello.sha[:])
	for _, row := range []struct{ name, uri, msg string }{
		{"not-found", "urn:sha256:" + strings.Repeat("e", 64), errNotFound},
		{"malformed-urn", "urn:blake3:" + h[:63], errMalformed},
		{"unsupported-scheme", "http://x", errUnsupported},
		{"empty-uri", "", errUnsupported},
	} {
		t.Run(row.name, func(t *testing.T) {
			s := tr.session(t)
			o, r1, r2 := tk(151), tk(152), tk(153)
			req := cat(openReq(o, row.uri), readReq(r1, o, 0, unlimited), readReq(r2, o, 0, 0))
			m := byToken(t, s.roundTrip(req, 3))
			wantErr(t, "OPEN", get(t, m, o), o, row.msg)
			wantErr(t, "READ behind it", get(t, m, r1), r1, row.msg)
			wantErr(t, "second READ behind it, length 0", get(t, m, r2), r2, row.msg)
		})
	}
}

// Rule 4: a READ naming a token never opened in the session.
func caseReadUnknownToken(t *testing.T, tr *transport) {
	t.Run("fresh-session", func(t *testing.T) {
		s := tr.session(t)
		r := tk(161)
		wantErr(t, "READ", s.one(readReq(r, tk(162), 0, 100)), r, errUnknownToken)
	})
	t.Run("length-zero", func(t *testing.T) {
		s := tr.session(t)
		r := tk(161)
		wantErr(t, "READ length 0", s.one(readReq(r, tk(162), 0, 0)), r, errUnknownToken)
	})
	t.Run("others-open", func(t *testing.T) {
		s := tr.session(t)
		o, r1, r2 := tk(163), tk(164), tk(165)
		wantOK(t, "OPEN", s.one(openReq(o, tr.srv.hello.sha256URN())), o)
		wantRead(t, "READ of it", s.one(readReq(r1, o, 0, 5)), r1, tr.srv.hello, 0, 5)
		// A READ's own token opens nothing.
		wantErr(t, "READ naming a READ's token", s.one(readReq(r2, r1, 0, 5)), r2, errUnknownToken)
		// Nor does the flag-clear twin of an unrelated token.
		other := tk(166)
		wantErr(t, "READ naming another token", s.one(readReq(r2, other, 0, 5)), r2, errUnknownToken)
	})
}

// The READ's open_token flag bit is ignored.
func caseReadOpenTokenFlag(t *testing.T, tr *transport) {
	hello := tr.srv.hello
	s := tr.session(t)
	o := tk(171) // flag clear
	oFlag := o
	oFlag[7] |= 1
	r1, r2 := tk(172), tk(173)
	// Pipelined behind the OPEN, then again on its own.
	m := byToken(t, s.roundTrip(cat(openReq(o, hello.sha256URN()), readReq(r1, oFlag, 2, 9)), 2))
	wantOK(t, "OPEN", get(t, m, o), o)
	wantRead(t, "READ with open_token flag set, pipelined", get(t, m, r1), r1, hello, 2, 9)
	wantRead(t, "READ with open_token flag set", s.one(readReq(r2, oFlag, 0, unlimited)), r2, hello, 0, unlimited)
}

// Rule 1: many READs in one write; every token is answered exactly once, in
// any order.
func caseManyPipelined(t *testing.T, tr *transport) {
	big, hello := tr.srv.big, tr.srv.hello
	s := tr.session(t)
	ob, oh := tk(181), tk(182)
	type rd struct {
		f           *testFile
		off, length uint64
	}
	reads := map[[8]byte]rd{}
	req := cat(openReq(ob, big.sha256URN()), openReq(oh, hello.blake3URN()))
	rng := mrand.New(mrand.NewPCG(1, 2))
	const n = 300
	for i := range n {
		tok := tk(uint64(10000 + i))
		f, o := big, ob
		if i%7 == 3 {
			f, o = hello, oh
		}
		off := rng.Uint64N(f.size() + 10)
		length := rng.Uint64N(70000)
		switch i % 25 {
		case 0:
			length = 0
		case 1:
			length = unlimited
		case 2:
			off = f.size()
		}
		reads[tok] = rd{f, off, length}
		req = append(req, readReq(tok, o, off, length)...)
	}
	m := byToken(t, s.roundTrip(req, n+2))
	wantOK(t, "OPEN big", get(t, m, ob), ob)
	wantOK(t, "OPEN hello", get(t, m, oh), oh)
	for tok, q := range reads {
		wantRead(t, fmt.Sprintf("READ %x", tok), get(t, m, tok), tok, q.f, q.off, q.length)
	}
	s.expectQuiet(300 * time.Millisecond)
}

// Encoding: the response token is the request token byte for byte with the
// flag set to is_error, whatever the token's bits.
func caseTokenEcho(t *testing.T, tr *transport) {
	hello := tr.srv.hello
	rnd := [8]byte{0x01, 0x80, 0x7f, 0xfe, 0x00, 0xaa, 0x55, 0xc8}
	for _, row := range []struct {
		name string
		tok  [8]byte
	}{
		{"zero", [8]byte{}},
		{"all-ones", [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{"high-byte-only", [8]byte{7: 0xfe}},
		{"low-byte-only", [8]byte{0: 0x01}},
		{"pattern", rnd},
	} {
		t.Run(row.name, func(t *testing.T) {
			s := tr.session(t)
			raw := row.tok
			clear := masked(raw)
			errTok := clear
			errTok[7] |= 1
			// OPEN: the flag bit on the wire is the type, 0.
			o := clear
			got := s.one(openReq(o, hello.sha256URN()))
			if got.raw != clear || len(got.payload) != 0 {
				t.Errorf("OPEN %x OK: got %v, want token bytes %x", clear, got, clear)
			}
			// READ with the same token bits and flag 1, naming the open token
			// with the flag set as well: OK carries the flag clear.
			rtok := raw
			rtok[7] |= 1
			got = s.one(readReq(rtok, rtok, 0, 5))
			if got.raw != clear || !bytes.Equal(got.payload, hello.data[:min(5, len(got.payload))]) || len(got.payload) == 0 {
				t.Errorf("READ %x OK: got %v, want token bytes %x and %q", rtok, got, clear, hello.data[:5])
			}
			// Errors carry the flag set.
			got = s.one(openReq(o, hello.blake3URN()))
			if got.raw != errTok || string(got.payload) != errTokenInUse {
				t.Errorf("OPEN %x ERROR: got %v, want token bytes %x", clear, got, errTok)
			}
			s2 := s.another(t)
			got = s2.one(openReq(o, "urn:sha256:"+strings.Repeat("f", 64)))
			if got.raw != errTok || string(got.payload) != errNotFound {
				t.Errorf("OPEN %x not found: got %v, want token bytes %x payload %q", clear, got, errTok, errNotFound)
			}
			got = s2.one(readReq(rtok, tk(3), 0, 5))
			if got.raw != errTok || string(got.payload) != errUnknownToken {
				t.Errorf("READ %x unknown: got %v, want token bytes %x payload %q", rtok, got, errTok, errUnknownToken)
			}
		})
	}
}

// Sessions: tokens are scoped to their session (for QUIC, to one stream).
func caseTokenScope(t *testing.T, tr *transport) {
	hello, big := tr.srv.hello, tr.srv.big
	a := tr.session(t)
	b := a.another(t)
	o, r := tk(191), tk(192)
	wantOK(t, "OPEN hello in session A", a.one(openReq(o, hello.sha256URN())), o)
	wantErr(t, "READ of A's token in session B", b.one(readReq(r, o, 0, 5)), r, errUnknownToken)
	wantOK(t, "OPEN big with the same token in session B", b.one(openReq(o, big.sha256URN())), o)
	wantRead(t, "READ in session B", b.one(readReq(r, o, 0, 64)), r, big, 0, 64)
	wantRead(t, "READ in session A", a.one(readReq(r, o, 0, 64)), r, hello, 0, 64)
}

// Sessions: several at once (for QUIC, streams of one connection) with the
// same tokens, each reading its own file.
func caseParallelSessions(t *testing.T, tr *transport) {
	base := tr.session(t)
	files := []*testFile{tr.srv.big, tr.srv.hello, tr.srv.empty, tr.srv.big}
	for i, f := range files {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			s := base.another(t)
			o := tk(1)
			off := uint64(i) * 1000003 % max(f.size(), 1)
			req := cat(openReq(o, f.blake3URN()), readReq(tk(2), o, off, unlimited), readReq(tk(3), o, 0, 4096))
			m := byToken(t, s.roundTrip(req, 3))
			wantOK(t, "OPEN "+f.name, get(t, m, o), o)
			wantRead(t, "READ "+f.name, get(t, m, tk(2)), tk(2), f, off, unlimited)
			wantRead(t, "READ "+f.name, get(t, m, tk(3)), tk(3), f, 0, 4096)
		})
	}
}

// Encoding: requests split across many writes parse the same.
func caseTrickled(t *testing.T, tr *transport) {
	hello := tr.srv.hello
	s := tr.session(t)
	o, r := tk(201), tk(202)
	req := cat(openReq(o, hello.blake3URN()), readReq(r, o, 1, 6))
	werr := make(chan error, 1)
	s.arm(len(req))
	go func() {
		for i := range req {
			if _, err := s.w.Write(req[i : i+1]); err != nil {
				werr <- err
				return
			}
			if i%8 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
		werr <- nil
	}()
	var rs []response
	for range 2 {
		x, err := s.readResponse()
		if err != nil {
			t.Fatalf("read response: %v", err)
		}
		rs = append(rs, x)
	}
	if err := <-werr; err != nil {
		t.Fatalf("write: %v", err)
	}
	m := byToken(t, rs)
	wantOK(t, "OPEN", get(t, m, o), o)
	wantRead(t, "READ", get(t, m, r), r, hello, 1, 6)
}

// Rule 7: a uri longer than 8192 bytes ends the session without the rest
// being sent; the server keeps serving.
func caseURITooLong(t *testing.T, tr *transport) {
	for _, row := range []struct {
		name string
		n    uint64
	}{
		{"8193", confMaxURI + 1},
		{"2^62", 1 << 62},
		{"2^64-1", unlimited},
	} {
		t.Run(row.name, func(t *testing.T) {
			s := tr.session(t)
			hdr := openHeader(tk(211), row.n)
			if _, err := s.w.Write(hdr); err != nil {
				t.Fatalf("write: %v", err)
			}
			s.expectClosed(closeWithin, hdr)

			// The server still serves: a sibling session (a new stream on
			// the same QUIC connection) and a new connection.
			for i, s2 := range []*sess{s.another(t), tr.session(t)} {
				o, r := tk(uint64(212+2*i)), tk(uint64(213+2*i))
				m := byToken(t, s2.roundTrip(cat(openReq(o, tr.srv.hello.sha256URN()), readReq(r, o, 0, 5)), 2))
				wantOK(t, "OPEN in a new session", get(t, m, o), o)
				wantRead(t, "READ in a new session", get(t, m, r), r, tr.srv.hello, 0, 5)
			}
		})
	}
	t.Run("after-good-requests", func(t *testing.T) {
		// Answered requests before the bad one do not keep it alive.
		s := tr.session(t)
		o := tk(221)
		wantOK(t, "OPEN", s.one(openReq(o, tr.srv.hello.sha256URN())), o)
		hdr := cat(openHeader(tk(222), confMaxURI+1), []byte("urn:sha256:"))
		if _, err := s.w.Write(hdr); err != nil {
			t.Fatalf("write: %v", err)
		}
		s.expectClosed(closeWithin, hdr)
	})
}

// Rule 7: exactly 8192 bytes is allowed and answered; the session goes on.
func caseURI8192(t *testing.T, tr *transport) {
	for _, row := range []struct{ name, uri, msg string }{
		{"unsupported-scheme", strings.Repeat("x", confMaxURI), errUnsupported},
		{"malformed-urn", "urn:sha256:" + strings.Repeat("a", confMaxURI-len("urn:sha256:")), errMalformed},
	} {
		t.Run(row.name, func(t *testing.T) {
			if len(row.uri) != confMaxURI {
				t.Fatalf("uri is %d bytes", len(row.uri))
			}
			s := tr.session(t)
			o := tk(231)
			wantErr(t, "OPEN of an 8192-byte uri", s.one(openReq(o, row.uri)), o, row.msg)
			o2, r := tk(232), tk(233)
			m := byToken(t, s.roundTrip(cat(openReq(o2, tr.srv.big.blake3URN()), readReq(r, o2, 99, 99)), 2))
			wantOK(t, "OPEN after it", get(t, m, o2), o2)
			wantRead(t, "READ after it", get(t, m, r), r, tr.srv.big, 99, 99)
		})
	}
}
