package server_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/server"
	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/wire"
)

// readSignal is counts that also says when a READ's payload has been
// written to the socket.
type readSignal struct {
	*counts
	done chan server.ReadStat
}

func (r readSignal) ReadDone(st server.ReadStat) {
	r.counts.ReadDone(st)
	r.done <- st
}

// Bytes the server has written to a plain TCP socket are the bytes it read
// and checked, even if the file is rewritten in place before the peer reads
// them. (With sendfile(2) the socket held the page cache's pages, and the
// peer read the new bytes under the old hash.)
func TestBytesSentStayTheBytesChecked(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	old := bytes.Repeat([]byte{'A'}, 64<<10)
	if err := os.WriteFile(path, old, 0o644); err != nil {
		t.Fatal(err)
	}
	// An hour back, so the rewrite below changes the times on any clock.
	hourAgo := time.Now().Add(-time.Hour)
	if err := os.Chtimes(path, hourAgo, hourAgo); err != nil {
		t.Fatal(err)
	}
	disk, err := store.OpenDisk(dir, store.Options{Index: filepath.Join(t.TempDir(), "index.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer disk.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := disk.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	met := readSignal{newCounts(), make(chan server.ReadStat, 4)}
	srv := server.New(server.Config{Store: disk, Metrics: met})
	l, err := srv.Listen(rtpurl.Dial{Proto: rtpurl.TCP, Host: "127.0.0.1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { srv.ServeListener(ctx, l); close(served) }()
	defer func() { srv.Shutdown(ctx); <-served }()

	c, err := net.Dial("tcp", l.Dial.Address())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	open, read := wire.TokenFromUint64(2), wire.TokenFromUint64(4)
	o := wire.NewOpen(open, sha(old))
	r := wire.NewRead(read, open, 0, uint64(len(old)))
	if _, err := c.Write(r.Append(o.Append(nil))); err != nil {
		t.Fatal(err)
	}
	// The payload is in the socket (64 KiB fits loopback's buffers), and
	// this side has read none of it yet.
	select {
	case st := <-met.done:
		if st.Failed || st.Bytes != int64(len(old)) {
			t.Fatalf("the READ was not sent whole: %+v", st)
		}
	case <-ctx.Done():
		t.Fatal("the READ was never sent")
	}
	// In place: truncating would give the file new pages.
	w, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteAt(bytes.Repeat([]byte{'B'}, len(old)), 0); err != nil {
		t.Fatal(err)
	}
	w.Close()

	h, payload, err := wire.ReadResponse(c, 1<<20)
	if err != nil || h.IsError || h.Token != open {
		t.Fatalf("OPEN: %+v %q %v", h, payload, err)
	}
	h, payload, err = wire.ReadResponse(c, 1<<20)
	if err != nil || h.IsError || h.Token != read {
		t.Fatalf("READ: %+v %.40q %v", h, payload, err)
	}
	if n := bytes.Count(payload, []byte{'B'}); n > 0 || !bytes.Equal(payload, old) {
		t.Fatalf("the READ of the old hash carried %d bytes of the rewritten file", n)
	}
}
