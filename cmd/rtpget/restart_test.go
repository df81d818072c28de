package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rtp-project/rtp/internal/rtpdtest"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/swarm"
)

// The only server stops mid-download and comes back on the same port a few
// seconds later: every session fails several times meanwhile, yet the
// server is within its retry budget (--retry-for, 60 s by default), so the
// download resumes from it and completes exact.
func TestServerRestartedMidDownload(t *testing.T) {
	blobs := t.TempDir()
	data, u := writeRandom(t, blobs, "big.bin", 256<<20)
	port := rtpdtest.FreePort(t)
	srv := rtpdtest.Start(t, blobs, "--index", filepath.Join(t.TempDir(), "index.db"),
		"--listen", fmt.Sprintf("tcp!127.0.0.1!%d", port), "--metrics", "tcp!127.0.0.1!0")
	md, err := rtpurl.ParseDial(srv.Metrics[0])
	if err != nil {
		t.Fatal(err)
	}
	metrics := "http://" + md.Address() + "/metrics"
	out := filepath.Join(t.TempDir(), "big.bin")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, rtpdtest.RTPGet, "-v", "--json", "-o", out, addServers(u, srv))
	// A hung rtpget prints every goroutine's stack on its way out.
	cmd.Env = append(os.Environ(), "GOTRACEBACK=all")
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGQUIT) }
	cmd.WaitDelay = 10 * time.Second
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderrPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Count rtpget's retries as it logs them.
	retried := make(chan struct{}, 1000)
	logDone := make(chan string)
	go func() {
		var all strings.Builder
		sc := bufio.NewScanner(stderrPipe)
		for sc.Scan() {
			all.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "server failed; retrying") {
				select {
				case retried <- struct{}{}:
				default:
				}
			}
		}
		logDone <- all.String()
	}()

	// Stop the server once it has sent 4 MiB: mid-download, READs in flight.
	var sent float64
	for deadline := time.Now().Add(30 * time.Second); sent < 4<<20; time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the server sent %.0f bytes in 30 s", sent)
		}
		sent = rtpdtest.Scrape(t, metrics)[`rtpd_read_bytes_total{resource="blob"}`]
	}
	srv.Kill()
	down := time.Now()
	// Keep it down for 2 s and until rtpget has failed more often than a
	// shared count of 5 allowed (every session fails at least once).
	const failures = 6
	for n := 0; n < failures; n++ {
		select {
		case <-retried:
		case log := <-logDone:
			t.Fatalf("rtpget ended while its server was down, after %d retries:\n%s", n, log)
		case <-ctx.Done():
			t.Fatalf("rtpget retried only %d times in 2 minutes", n)
		}
	}
	time.Sleep(time.Until(down.Add(2 * time.Second)))
	downFor := time.Since(down)
	srv.Restart()
	log := <-logDone
	if err := cmd.Wait(); err != nil {
		t.Fatalf("rtpget: %v (server down for %v)\n%s", err, downFor, log)
	}
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("output differs (%d bytes, %v)", len(got), err)
	}
	var r swarm.Result
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if s := r.Servers[0]; s.Retries < failures || s.State == swarm.StateDropped {
		t.Errorf("server %+v: want %d retries or more, not dropped", s, failures)
	}
	t.Logf("server stopped after sending %.0f bytes, down for %v; rtpget retried %d times", sent, downFor.Round(time.Millisecond), r.Servers[0].Retries)
}
