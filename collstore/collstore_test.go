package collstore

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rtp-project/rtp/client"
	"github.com/rtp-project/rtp/collection"
	"github.com/rtp-project/rtp/internal/rtpdtest"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/server"
	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/urn"
)

func write(t *testing.T, dir, rel, content string, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func sums(s string) urn.Sums {
	x, _ := urn.HashReader(strings.NewReader(s), nil)
	return x
}

// logBuf collects warnings.
func logBuf() (*slog.Logger, *bytes.Buffer) {
	var b bytes.Buffer
	return slog.New(slog.NewTextHandler(&b, nil)), &b
}

// TestBuild: the manifest of a subfolder of a real index lists every file
// under it relative to it, with Exec from the mode, and leaves out (with a
// warning) a name the path rules refuse; files outside it are not listed.
func TestBuild(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "models/llama/config.json", "{}\n", 0o644)
	write(t, dir, "models/llama/run.sh", "#!/bin/sh\n", 0o755)
	write(t, dir, "models/llama/shards/0001.bin", "shard one", 0o644)
	write(t, dir, "models/llama/empty", "", 0o644)
	write(t, dir, `models/llama/back\slash`, "bs", 0o644)
	write(t, dir, "models/llama-other/x", "not in the tree", 0o644)
	write(t, dir, "top.txt", "top", 0o644)
	disk := rtpdtest.IndexedDisk(t, dir)
	log, buf := logBuf()

	es, err := Build(context.Background(), disk, disk.Location(), "models/llama/", log)
	if err != nil {
		t.Fatal(err)
	}
	want := []collection.Entry{
		{Path: "config.json", Size: 3},
		{Path: "empty"},
		{Path: "run.sh", Size: 10, Exec: true},
		{Path: "shards/0001.bin", Size: 9},
	}
	contents := map[string]string{"config.json": "{}\n", "empty": "", "run.sh": "#!/bin/sh\n", "shards/0001.bin": "shard one"}
	if len(es) != len(want) {
		t.Fatalf("built %d entries, want %d: %+v", len(es), len(want), es)
	}
	for i, w := range want {
		s := sums(contents[w.Path])
		w.BLAKE3, w.SHA256 = s.BLAKE3, s.SHA256
		if es[i] != w {
			t.Errorf("entry %d: %+v\nwant %+v", i, es[i], w)
		}
	}
	if n := strings.Count(buf.String(), "left out of the tree's manifest"); n != 1 || !strings.Contains(buf.String(), `path=models/llama/back\slash`) {
		t.Errorf("want one warning for the backslash name, got %d:\n%s", n, buf.String())
	}
	if _, err := collection.Encode(es); err != nil {
		t.Fatal(err)
	}

	all, err := Build(context.Background(), disk, disk.Location(), "", log)
	if err != nil || len(all) != 6 {
		t.Fatalf("the whole folder: %d entries, %v; want 6", len(all), err)
	}
	if _, err := Build(context.Background(), disk, disk.Location(), "nothing/here", log); !errors.Is(err, ErrEmpty) {
		t.Errorf("an empty folder: %v, want ErrEmpty", err)
	}
}

// TestBuildChanged: a file changed since the index hashed it fails the
// build with store.ErrChanged (no tree naming bytes that are gone), and
// after the rescan the new manifest has the new hash.
func TestBuildChanged(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "t/a", "one", 0o644)
	write(t, dir, "t/b", "two", 0o644)
	disk := rtpdtest.IndexedDisk(t, dir)
	ctx := context.Background()
	before, err := Build(ctx, disk, disk.Location(), "t", nil)
	if err != nil {
		t.Fatal(err)
	}
	write(t, dir, "t/b", "two, changed", 0o644)
	if _, err := Build(ctx, disk, disk.Location(), "t", nil); !errors.Is(err, store.ErrChanged) {
		t.Fatalf("after a change: %v, want ErrChanged", err)
	}
	if _, err := disk.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := Build(ctx, disk, disk.Location(), "t", nil)
	if err != nil {
		t.Fatal(err)
	}
	b1, _ := collection.Encode(before)
	b2, _ := collection.Encode(after)
	if bytes.Equal(b1, b2) || after[1].SHA256 != sums("two, changed").SHA256 {
		t.Errorf("the manifest did not follow the change:\n%s\n%s", b1, b2)
	}
}

// TestKeeper: a saved manifest opens by both its hashes with its bytes; a
// second save is idempotent; a file that no longer hashes to its name is
// not served; Prune removes old manifests.
func TestKeeper(t *testing.T) {
	log, buf := logBuf()
	k := NewKeeper(filepath.Join(t.TempDir(), "collections"), log)
	m, err := collection.Encode([]collection.Entry{{Path: "a", Size: 1}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := k.Save(m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Save(m); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, h := range s.Hashes() {
		b, err := k.Open(ctx, h)
		if err != nil {
			t.Fatalf("open %s: %v", h, err)
		}
		got := make([]byte, b.Size())
		b.ReadAt(got, 0)
		b.Close()
		if !bytes.Equal(got, m) {
			t.Errorf("%s: %q, want %q", h, got, m)
		}
	}
	other := sums("x")
	if _, err := k.Open(ctx, other.Hashes()[0]); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("an unknown hash: %v", err)
	}
	// Corrupt the blake3 name's file (a different inode: the sha256 name
	// keeps the right bytes).
	p := filepath.Join(k.Dir(), "blake3-"+s.Hashes()[0].Hex())
	os.Remove(p)
	os.WriteFile(p, bytes.ToUpper(m), 0o644)
	if _, err := k.Open(ctx, s.Hashes()[0]); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(buf.String(), "does not hash to its name") {
		t.Errorf("a corrupt manifest: %v; log:\n%s", err, buf.String())
	}
	if b, err := k.Open(ctx, s.Hashes()[1]); err != nil {
		t.Errorf("the sha256 name: %v", err)
	} else {
		b.Close()
	}
	if n := k.Prune(time.Now().Add(-time.Hour)); n != 0 {
		t.Errorf("pruned %d fresh files", n)
	}
	if n := k.Prune(time.Now().Add(time.Hour)); n != 2 {
		t.Errorf("pruned %d old files, want 2", n)
	}
	if _, err := k.Open(ctx, s.Hashes()[1]); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a pruned manifest: %v", err)
	}
}

// TestServed: the RTP server, given the wrapped store, answers OPEN and
// READ for a kept manifest over loopback TCP, and still serves the
// folder's files and their trees.
func TestServed(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "t/a", "one", 0o644)
	disk := rtpdtest.IndexedDisk(t, dir)
	k := NewKeeper(Dir(disk.IndexDir()), nil)
	es, err := Build(context.Background(), disk, disk.Location(), "t", nil)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := collection.Encode(es)
	s, err := k.Save(m)
	if err != nil {
		t.Fatal(err)
	}
	st := Wrap(disk, k)
	if _, ok := st.(store.TreeOpener); !ok {
		t.Fatal("the wrapper of a disk store keeps no trees")
	}
	srv := server.New(server.Config{Store: st})
	l, err := srv.Listen(rtpurl.Dial{Proto: rtpurl.TCP, Host: "127.0.0.1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.ServeListener(ctx, l); close(done) }()
	t.Cleanup(func() { srv.Shutdown(context.Background()); cancel(); <-done })

	sess, err := client.Dial(ctx, l.Dial, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	read := func(uri string, n int) []byte {
		t.Helper()
		tok, err := sess.Open(ctx, uri)
		if err != nil {
			t.Fatalf("OPEN %s: %v", uri, err)
		}
		p := make([]byte, n)
		got, err := sess.ReadAt(ctx, tok, p, 0)
		if err != nil {
			t.Fatalf("READ %s: %v", uri, err)
		}
		return p[:got]
	}
	for _, h := range s.Hashes() {
		if got := read(h.String(), len(m)); !bytes.Equal(got, m) {
			t.Errorf("%s over the wire: %q, want %q", h, got, m)
		}
	}
	if got := read(sums("one").Hashes()[1].String(), 3); string(got) != "one" {
		t.Errorf("a file of the folder: %q", got)
	}
	if _, err := sess.Open(ctx, sums("absent").Hashes()[0].String()); err == nil {
		t.Error("an unknown hash opened")
	}
}
