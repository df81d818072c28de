package main

import (
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rtp-project/rtp/client"
	"github.com/rtp-project/rtp/internal/rtpdtest"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/urn"
)

// TestHangupRescans: SIGHUP (a closed terminal, a reload) killed rtpd
// (exit 129). Now it asks for a pass at once: a file added after start is
// served within seconds with --rescan 1h, and rtpd runs on.
func TestHangupRescans(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "first"), []byte("first\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := rtpdtest.Start(t, dir, "--listen", "tcp!127.0.0.1!0", "--rescan", "1h")
	d, err := rtpurl.ParseDial(s.Dials[0])
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	sess, err := client.Dial(ctx, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()

	data := []byte("added after the start\n")
	if err := os.WriteFile(filepath.Join(dir, "added"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	uri := urn.New(urn.SHA256, sha256.Sum256(data)).String()
	// settle: a file this fresh may still be written; the pass waits it out.
	time.Sleep(100 * time.Millisecond)
	if _, err := sess.Open(ctx, uri); err == nil {
		t.Fatal("the added file was served before any pass")
	}
	s.Signal(syscall.SIGHUP)
	pollUntil(t, "the added file is served after SIGHUP", func() bool {
		_, err := sess.Open(ctx, uri)
		return err == nil
	})
	if !s.Alive() {
		t.Fatal("rtpd exited on SIGHUP")
	}
	if !strings.Contains(s.Log(), "SIGHUP") {
		t.Errorf("rtpd did not log the SIGHUP:\n%s", s.Log())
	}
}
