//go:build linux

package server

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"lukechampine.com/blake3"

	"github.com/rtp-project/rtp/internal/testload"
	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/urn"
)

// A file rewritten while sendfile is sending it never yields a complete
// payload: the last byte is held back until the file is checked.
//
// The rewrite comes while sendfile is sending, by construction, not by a
// sleep: it has sent the head the receiver read, and with 64 KiB socket
// buffers and the receiver reading nothing more it cannot get near the
// last byte until after the rewrite. The file's mtime is set an hour back
// before it is indexed, so the rewrite changes it on any clock. With
// RTP_TEST_FAST_HASH=1 (package testload) the file is a tenth as big.
func TestSendFileHoldsBackLastByteOnChange(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, testload.Bytes(16<<20))
	rand.Read(data)
	path := filepath.Join(dir, "f")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	hourAgo := time.Now().Add(-time.Hour)
	if err := os.Chtimes(path, hourAgo, hourAgo); err != nil {
		t.Fatal(err)
	}
	disk, err := store.OpenDisk(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer disk.Close()
	if _, err := disk.Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, err := disk.Open(context.Background(), urn.New(urn.BLAKE3, blake3.Sum256(data)))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	recv, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer recv.Close()
	recv.(*net.TCPConn).SetReadBuffer(64 << 10)
	send, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer send.Close()
	send.(*net.TCPConn).SetWriteBuffer(64 << 10)

	errc := make(chan error, 1)
	go func() {
		err := sendFile(send.(*net.TCPConn), b.(store.FileBlob), 0, int64(len(data)))
		send.Close()
		errc <- err
	}()
	// Once sendfile has sent the head, rewrite the tail.
	head := make([]byte, len(data)/16)
	if _, err := io.ReadFull(recv, head); err != nil {
		t.Fatal(err)
	}
	w, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteAt(make([]byte, 4096), int64(len(data))-8192); err != nil {
		t.Fatal(err)
	}
	w.Close()
	rest, _ := io.ReadAll(recv)
	got := len(head) + len(rest)
	if err := <-errc; !errors.Is(err, store.ErrChanged) {
		t.Errorf("sendFile after a rewrite: %v, want store.ErrChanged", err)
	}
	if got >= len(data) {
		t.Errorf("received %d bytes of %d: a complete payload after the file changed", got, len(data))
	}
}
