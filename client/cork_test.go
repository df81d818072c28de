package client_test

import (
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rtp-project/rtp/client"
	"github.com/rtp-project/rtp/internal/rtpdtest"
	"github.com/rtp-project/rtp/urn"
)

// TestCorkAndRTT: requests started under Cork wait until Uncork and then
// are answered; RTT gives the TCP round trip, on loopback well under the
// time a request waits for the server.
func TestCorkAndRTT(t *testing.T) {
	data := []byte("corked\n")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	d, _ := rtpdtest.ServeInProcess(t, dir, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := client.Dial(ctx, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if rtt := s.RTT(); rtt <= 0 || rtt > 100*time.Millisecond {
		t.Errorf("RTT on loopback: %v", rtt)
	}

	uri := urn.New(urn.SHA256, sha256.Sum256(data)).String()
	s.Cork()
	s.Cork()
	open := s.StartOpen(uri)
	buf := make([]byte, len(data))
	read := s.StartRead(open.Token, 0, uint64(len(data)), &sink{p: buf})
	s.Uncork() // one Cork is left: still held
	select {
	case <-open.Done:
		t.Fatal("a corked OPEN was answered before Uncork")
	case <-time.After(300 * time.Millisecond):
	}
	s.Uncork()
	if err := open.Wait(ctx); err != nil {
		t.Fatalf("OPEN after Uncork: %v", err)
	}
	if err := read.Wait(ctx); err != nil || string(buf) != string(data) {
		t.Fatalf("READ after Uncork: %q, %v", buf, err)
	}
}

type sink struct {
	p []byte
	n int
}

func (s *sink) Write(b []byte) (int, error) {
	s.n += copy(s.p[s.n:], b)
	return len(b), nil
}
