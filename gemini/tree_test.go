package gemini

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rtp-project/rtp/client"
	"github.com/rtp-project/rtp/collection"
	"github.com/rtp-project/rtp/collstore"
	"github.com/rtp-project/rtp/internal/rtpdtest"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/server"
	"github.com/rtp-project/rtp/urn"
)

// TestTreeName: gemini+rtp://HOST/isos/ answers 30 with the rtp: URL of
// the folder's tree; the RTP server in front of the same keeper serves
// that manifest over loopback, listing every file under the folder; after
// a file changes (and the index pass), the same name gives another URL
// whose manifest has the new hash. gemini:// with the same path still gets
// the listing, which links the tree's name.
func TestTreeName(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "isos", "old"), 0o755)
	os.WriteFile(filepath.Join(dir, "isos", "a.iso"), []byte("a, first"), 0o644)
	os.WriteFile(filepath.Join(dir, "isos", "old", "b.iso"), []byte("b"), 0o755)
	os.WriteFile(filepath.Join(dir, "top"), nil, 0o644)
	disk := rtpdtest.IndexedDisk(t, dir)
	keeper := collstore.NewKeeper(collstore.Dir(disk.IndexDir()), nil)

	// The RTP server, through the wrapper rtpd serve uses.
	srv := server.New(server.Config{Store: collstore.Wrap(disk, keeper)})
	l, err := srv.Listen(rtpurl.Dial{Proto: rtpurl.TCP, Host: "127.0.0.1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.ServeListener(ctx, l); close(done) }()
	t.Cleanup(func() { srv.Shutdown(context.Background()); cancel(); <-done })

	g := NewServer(ServerConfig{Index: disk, Cert: newCert(t), Advertise: []rtpurl.Dial{l.Dial}, Trees: keeper, Root: disk.Location()})
	ln, err := g.Listen(rtpurl.Dial{Proto: rtpurl.TCP, Host: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	gdone := make(chan struct{})
	go func() { g.Serve(context.Background(), ln); close(gdone) }()
	t.Cleanup(func() {
		sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		g.Shutdown(sctx)
		<-gdone
	})
	port := ln.Addr().(*net.TCPAddr).Port
	name := fmt.Sprintf("gemini+rtp://localhost:%d/isos/", port)

	tree := func() (*rtpurl.URL, *collection.Manifest) {
		t.Helper()
		got := raw(t, port, name)
		meta, ok := strings.CutPrefix(strings.TrimSuffix(got, "\r\n"), "30 ")
		if !ok {
			t.Fatalf("%s: %q, want 30", name, got)
		}
		u, err := rtpurl.Parse(meta)
		if err != nil {
			t.Fatal(err)
		}
		if !collection.IsCollection(u.Types) || u.Name != "isos" || len(u.Hashes) != 1 || u.Hashes[0].Kind != urn.BLAKE3 || len(u.Servers) != 1 || u.Servers[0] != l.Dial {
			t.Fatalf("tree URL %s", meta)
		}
		sess, err := client.Dial(ctx, u.Servers[0], nil)
		if err != nil {
			t.Fatal(err)
		}
		defer sess.Close()
		tok, err := sess.Open(ctx, u.Hashes[0].String())
		if err != nil {
			t.Fatalf("OPEN of the tree's manifest: %v", err)
		}
		b := make([]byte, u.Length)
		n, err := sess.ReadAt(ctx, tok, b, 0)
		if err != nil || int64(n) != u.Length {
			t.Fatalf("READ of the manifest: %d bytes, %v", n, err)
		}
		if s, _ := urn.HashReader(bytes.NewReader(b), nil); s.Hashes()[0] != u.Hashes[0] {
			t.Fatal("the manifest served does not match its URL")
		}
		m, err := collection.Parse(bytes.NewReader(b), collection.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		return u, m
	}
	u1, m1 := tree()
	if len(m1.Entries) != 2 || m1.Entries[0].Path != "a.iso" || m1.Entries[1].Path != "old/b.iso" || !m1.Entries[1].Exec || m1.Entries[0].Exec {
		t.Fatalf("manifest entries %+v", m1.Entries)
	}

	os.WriteFile(filepath.Join(dir, "isos", "a.iso"), []byte("a, second version"), 0o644)
	if got := raw(t, port, name); !strings.HasPrefix(got, "40 ") {
		t.Errorf("a file changed, not yet hashed: %q, want 40", got)
	}
	if _, err := disk.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	u2, m2 := tree()
	s, _ := urn.HashReader(strings.NewReader("a, second version"), nil)
	if u2.Hashes[0] == u1.Hashes[0] || m2.Entries[0].SHA256 != s.SHA256 {
		t.Errorf("after a change, the name still gives %s", u2.Hashes[0])
	}

	list := raw(t, port, strings.Replace(name, "gemini+rtp:", "gemini:", 1))
	if !strings.HasPrefix(list, "20 text/gemini\r\n") || !strings.Contains(list, fmt.Sprintf("=> gemini+rtp://localhost:%d/isos/ isos/ as one tree", port)) {
		t.Errorf("gemini:// listing:\n%s", list)
	}
	if got := raw(t, port, fmt.Sprintf("gemini+rtp://localhost:%d/nothing/", port)); !strings.HasPrefix(got, "51 ") {
		t.Errorf("a folder with nothing: %q, want 51", got)
	}
}
