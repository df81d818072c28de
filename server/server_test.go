package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
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

func newFixture(t *testing.T, cfg server.Config, files map[string][]byte) *fixture {
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
