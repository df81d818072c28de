package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rtp-project/rtp/client"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/server"
	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/urn"
	"github.com/rtp-project/rtp/wire"
)

// fixture is a real store on a temp folder, served in-process on loopback
// TCP, TLS and QUIC with a certificate made for the test.
type fixture struct {
	dir   string
	disk  *store.Disk
	dials map[string]rtpurl.Dial
	opts  *client.Options
}

func newFixture(t testing.TB, cfg server.Config, files map[string][]byte) *fixture {
	t.Helper()
	return newWrappedFixture(t, cfg, files, nil)
}

// newWrappedFixture is newFixture serving wrap(disk) instead of the disk
// store itself, when wrap is not nil.
func newWrappedFixture(t testing.TB, cfg server.Config, files map[string][]byte, wrap func(*store.Disk) store.Opener) *fixture {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	disk, err := store.OpenDisk(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { disk.Close() })
	if _, err := disk.Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	cert, _, err := server.LoadOrCreateCert("", "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	leaf, _ := x509.ParseCertificate(cert.Certificate[0])
	roots.AddCert(leaf)

	cfg.Store = disk
	if wrap != nil {
		cfg.Store = wrap(disk)
	}
	srv := server.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	f := &fixture{dir: dir, disk: disk, dials: map[string]rtpurl.Dial{}, opts: &client.Options{TLS: &tls.Config{RootCAs: roots, ServerName: "localhost"}}}
	done := make(chan struct{})
	n := 0
	for _, proto := range []string{"tcp", "tls", "quic"} {
		l, err := srv.Listen(rtpurl.Dial{Proto: proto, Host: "127.0.0.1", Port: 0}, server.TLSConfig(cert))
		if err != nil {
			t.Fatal(err)
		}
		f.dials[proto] = l.Dial
		n++
		go func() { srv.ServeListener(ctx, l); done <- struct{}{} }()
	}
	t.Cleanup(func() {
		sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		srv.Shutdown(sctx)
		cancel()
		for range n {
			<-done
		}
	})
	return f
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestDownloadEveryTransport(t *testing.T) {
	data := random(3<<20 + 12345)
	f := newFixture(t, server.Config{MaxRead: 300 << 10}, map[string][]byte{"f": data})
	sum := sha256.Sum256(data)
	uri := urn.New(urn.SHA256, sum).String()
	for proto, d := range f.dials {
		t.Run(proto, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			s, err := client.Dial(ctx, d, f.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			// Pipeline the OPEN and all READs before any response.
			open := s.StartOpen(uri)
			var got bytes.Buffer
			parts := make([]*bytes.Buffer, 0)
			var calls []*client.Call
			for off := 0; off < len(data)+1000; off += 256 << 10 {
				b := new(bytes.Buffer)
				parts = append(parts, b)
				calls = append(calls, s.StartRead(open.Token, uint64(off), 256<<10, b))
			}
			if err := open.Wait(ctx); err != nil {
				t.Fatal(err)
			}
			for i, c := range calls {
				if err := c.Wait(ctx); err != nil {
					t.Fatalf("READ %d: %v", i, err)
				}
				got.Write(parts[i].Bytes())
			}
			if !bytes.Equal(got.Bytes(), data) {
				t.Fatalf("got %d bytes, want %d, equal=%v", got.Len(), len(data), bytes.Equal(got.Bytes(), data))
			}
			// The cap holds for an unlimited READ.
			c := s.StartRead(open.Token, 0, wire.Unlimited, new(bytes.Buffer))
			if err := c.Wait(ctx); err != nil || c.N != 300<<10 {
				t.Errorf("unlimited READ: %d bytes, %v; want the 300 KiB cap", c.N, err)
			}
			if _, err := s.Open(ctx, "urn:sha256:"+string(bytes.Repeat([]byte("0"), 64))); !errors.Is(err, wire.ErrNotFound) {
				t.Errorf("unknown hash: %v", err)
			}
		})
	}
}

func sha(b []byte) string { s := sha256.Sum256(b); return urn.New(urn.SHA256, s).String() }

// readAll reads the whole blob behind tok in 64 KiB READs.
func readAll(ctx context.Context, s *client.Session, tok wire.Token) ([]byte, error) {
	var out []byte
	buf := make([]byte, 64<<10)
	for {
		n, err := s.ReadAt(ctx, tok, buf, uint64(len(out)))
		if err != nil || n == 0 {
			return out, err
		}
		out = append(out, buf[:n]...)
	}
}

func TestRewriteInPlaceNeverServedUnderOldHash(t *testing.T) {
	old := random(2 << 20)
	f := newFixture(t, server.Config{}, map[string][]byte{"f": old})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := client.Dial(ctx, f.dials["tcp"], f.opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tok, err := s.Open(ctx, sha(old))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := readAll(ctx, s, tok); err != nil || !bytes.Equal(got, old) {
		t.Fatalf("before rewrite: %d bytes, %v", len(got), err)
	}
	// Rewrite part of the file in place, same size.
	w, err := os.OpenFile(filepath.Join(f.dir, "f"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteAt(random(4096), 1<<20); err != nil {
		t.Fatal(err)
	}
	w.Close()
	now, _ := os.ReadFile(filepath.Join(f.dir, "f"))

	// The open token no longer reads, anywhere in the file.
	for _, off := range []uint64{0, 1 << 20, 2<<20 - 1} {
		n, err := s.ReadAt(ctx, tok, make([]byte, 1000), off)
		if !errors.Is(err, wire.ErrNotFound) || n != 0 {
			t.Errorf("READ at %d after rewrite: %d bytes, %v; want not found", off, n, err)
		}
	}
	// A new OPEN of the old hash fails, on a new session too.
	s2, err := client.Dial(ctx, f.dials["tcp"], f.opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := s2.Open(ctx, sha(old)); !errors.Is(err, wire.ErrNotFound) {
		t.Errorf("OPEN of the old hash after rewrite: %v, want not found", err)
	}
	// After a rescan the new bytes are served under their own hash.
	if _, err := f.disk.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	tok2, err := s2.Open(ctx, sha(now))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := readAll(ctx, s2, tok2); err != nil || !bytes.Equal(got, now) {
		t.Errorf("new hash: %d bytes, %v", len(got), err)
	}
	if _, err := s2.Open(ctx, sha(old)); !errors.Is(err, wire.ErrNotFound) {
		t.Errorf("old hash after rescan: %v, want not found", err)
	}
}

func TestSymlinkOutsideNotServed(t *testing.T) {
	secret := random(1000)
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, secret, 0o644); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, server.Config{}, map[string][]byte{"inside": []byte("hello")})
	if err := os.Symlink(outside, filepath.Join(f.dir, "link")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := f.disk.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Skipped != 1 {
		t.Errorf("scan skipped %d files, want the symlink", st.Skipped)
	}
	s, err := client.Dial(ctx, f.dials["quic"], f.opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Open(ctx, sha(secret)); !errors.Is(err, wire.ErrNotFound) {
		t.Errorf("OPEN of the file behind the symlink: %v, want not found", err)
	}
	if _, err := s.Open(ctx, sha([]byte("hello"))); err != nil {
		t.Errorf("OPEN of the file inside: %v", err)
	}
}

func TestSessionLimit(t *testing.T) {
	f := newFixture(t, server.Config{MaxSessions: 2}, map[string][]byte{"a": []byte("a")})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var sessions []*client.Session
	for range 2 {
		s, err := client.Dial(ctx, f.dials["tcp"], f.opts)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, err := s.Open(ctx, sha([]byte("a"))); err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, s)
	}
	third, err := client.Dial(ctx, f.dials["tcp"], f.opts)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	if _, err := third.Open(ctx, sha([]byte("a"))); err == nil {
		t.Error("a third session was served past MaxSessions=2")
	}
	sessions[0].Close()
	// The slot frees once the server has noticed the close.
	deadline := time.Now().Add(5 * time.Second)
	for {
		s, err := client.Dial(ctx, f.dials["tcp"], f.opts)
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Open(ctx, sha([]byte("a")))
		s.Close()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no session after one closed: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestFailedOpensForgottenOldestFirst(t *testing.T) {
	f := newFixture(t, server.Config{MaxOpenTokens: 10}, map[string][]byte{"a": []byte("a")})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := client.Dial(ctx, f.dials["tcp"], f.opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var opens []*client.Call
	for i := range 15 {
		opens = append(opens, s.StartOpen(fmt.Sprintf("urn:sha256:%064x", i)))
	}
	for _, c := range opens {
		if err := c.Wait(ctx); !errors.Is(err, wire.ErrNotFound) {
			t.Fatalf("OPEN: %v, want not found", err)
		}
	}
	for i, c := range opens {
		_, err := s.ReadAt(ctx, c.Token, make([]byte, 1), 0)
		want := error(wire.ErrNotFound)
		if i < 5 {
			want = wire.ErrUnknownToken
		}
		if !errors.Is(err, want) {
			t.Errorf("READ on failed OPEN %d: %v, want %v", i, err, want)
		}
	}
}
