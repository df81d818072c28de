package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rtp-project/rtp/client"
	"github.com/rtp-project/rtp/internal/rtpdtest"
	"github.com/rtp-project/rtp/outboard"
	"github.com/rtp-project/rtp/rtpurl"
)

const (
	blobBytes = `rtpd_read_bytes_total{resource="blob"}`
	treeBytes = `rtpd_read_bytes_total{resource="tree"}`
)

// TestMetricsCountDownload is the acceptance 1: /metrics, scraped
// while a client downloads from a real rtpd, counts exactly the bytes the
// client has received: READ by READ with a client of our own, then for a
// whole rtpget download, which the counters match to the byte.
func TestMetricsCountDownload(t *testing.T) {
	blobs := t.TempDir()
	data := randomFile(t, filepath.Join(blobs, "film.bin"), 12<<20+12345)
	s := rtpdtest.Start(t, blobs, "--index", filepath.Join(t.TempDir(), "index.db"),
		"--listen", "tcp!127.0.0.1!0", "--metrics", "tcp!127.0.0.1!0")
	murl := "http://" + address(t, s.Metrics[0]) + "/metrics"
	d, err := rtpurl.ParseDial(s.Dials[0])
	if err != nil {
		t.Fatal(err)
	}

	got := rtpdtest.Scrape(t, murl)
	if got[blobBytes] != 0 || got[`rtpd_index_files`] != 1 || got[`rtpd_index_bytes`] != float64(len(data)) || got[`rtpd_hashed_bytes_total`] != float64(len(data)) {
		t.Fatalf("before any download: %s %v, index %v files of %v bytes, %v bytes hashed; want 0, 1, %d, %d",
			blobBytes, got[blobBytes], got[`rtpd_index_files`], got[`rtpd_index_bytes`], got[`rtpd_hashed_bytes_total`], len(data), len(data))
	}

	// READ by READ: after each, the counter reaches what we hold, never more.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sess, err := client.Dial(ctx, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := sess.Open(ctx, hashesOf(data)[1].String())
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	var received int64
	for received < int64(len(data)) {
		n, err := sess.ReadAt(ctx, tok, buf, uint64(received))
		if err != nil {
			t.Fatal(err)
		}
		received += int64(n)
		// The server counts a READ just after writing its last byte: wait
		// for it, but never see more than the client holds.
		deadline := time.Now().Add(5 * time.Second)
		for {
			got = rtpdtest.Scrape(t, murl)
			if v := got[blobBytes]; v > float64(received) {
				t.Fatalf("after %d bytes received, %s = %v", received, blobBytes, v)
			} else if v == float64(received) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after %d bytes received, %s = %v", received, blobBytes, got[blobBytes])
			}
			time.Sleep(5 * time.Millisecond)
		}
		if received == 4<<20 {
			if got[`rtpd_sessions_open{transport="tcp"}`] != 1 {
				t.Errorf("mid-download: %v TCP sessions open, want 1", got[`rtpd_sessions_open{transport="tcp"}`])
			}
			t.Logf("mid-download scrape: client received %d bytes; %s %.0f, sessions_open{tcp} %v, reads_total{data} %v",
				received, blobBytes, got[blobBytes], got[`rtpd_sessions_open{transport="tcp"}`], got[`rtpd_reads_total{result="data"}`])
		}
	}
	sess.Close()
	if want := float64((len(data) + 1<<20 - 1) >> 20); got[`rtpd_reads_total{result="data"}`] != want || got[`rtpd_read_duration_seconds_count`] != want {
		t.Errorf("reads_total{data} %v, read_duration_seconds_count %v; want %v", got[`rtpd_reads_total{result="data"}`], got[`rtpd_read_duration_seconds_count`], want)
	}
	t.Logf("client of our own: received %d bytes in 1 MiB READs; %s = %.0f, equal after each READ", received, blobBytes, got[blobBytes])

	// A whole rtpget download, with its BLAKE3 tree, scraped while it runs.
	before := rtpdtest.Scrape(t, murl)
	u := rtpurl.URL{Hashes: hashesOf(data), Length: int64(len(data)), Servers: []rtpurl.Dial{d}}
	out := filepath.Join(t.TempDir(), "film.bin")
	var mu sync.Mutex
	var during []float64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			resp, err := http.Get(murl)
			if err != nil {
				continue
			}
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				if v, ok := strings.CutPrefix(sc.Text(), blobBytes+" "); ok {
					f, _ := strconv.ParseFloat(v, 64)
					mu.Lock()
					during = append(during, f-before[blobBytes])
					mu.Unlock()
				}
			}
			resp.Body.Close()
		}
	}()
	stdout, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, "--json", "-o", out, u.String())
	close(stop)
	wg.Wait()
	if code != 0 {
		t.Fatalf("rtpget: exit %d: %s", code, stderr)
	}
	var res struct {
		Fetched int64  `json:"fetched_bytes"`
		Tree    string `json:"tree_from"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("rtpget --json: %v: %s", err, stdout)
	}
	if b, _ := os.ReadFile(out); string(b) != string(data) {
		t.Fatal("rtpget wrote other bytes")
	}
	after := rtpdtest.Scrape(t, murl)
	blob := after[blobBytes] - before[blobBytes]
	tree := after[treeBytes] - before[treeBytes]
	if blob != float64(res.Fetched) || res.Fetched != int64(len(data)) {
		t.Errorf("rtpget received %d bytes of the file (%d long); %s grew by %v", res.Fetched, len(data), blobBytes, blob)
	}
	if res.Tree == "" || tree != float64(outboard.Size(int64(len(data)))) {
		t.Errorf("rtpget's tree from %q; %s grew by %v, the tree is %d bytes", res.Tree, treeBytes, tree, outboard.Size(int64(len(data))))
	}
	if after[`rtpd_reads_in_flight`] != 0 || after[`rtpd_reads_total{result="failed"}`] != 0 {
		t.Errorf("after the download: %v READs in flight, %v failed", after[`rtpd_reads_in_flight`], after[`rtpd_reads_total{result="failed"}`])
	}
	mu.Lock()
	for i := 1; i < len(during); i++ {
		if during[i] < during[i-1] || during[i] > float64(len(data)) {
			t.Errorf("scrapes during the download: %v", during)
			break
		}
	}
	t.Logf("rtpget: fetched_bytes %d; %s +%.0f, %s +%.0f (tree %d bytes); %d scrapes while it ran saw %v",
		res.Fetched, blobBytes, blob, treeBytes, tree, outboard.Size(int64(len(data))), len(during), summarize(during))
	mu.Unlock()

	resp, err := http.Get("http://" + address(t, s.Metrics[0]) + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("/healthz: %v %v", resp, err)
	}
	s.Signal(syscall.SIGTERM)
	if code := s.Wait(); code != 0 {
		t.Errorf("rtpd --metrics exited %d on SIGTERM, want 0:\n%s", code, s.Log())
	}
}

// summarize shows the distinct values in vs, at most eight.
func summarize(vs []float64) string {
	var out []string
	for i, v := range vs {
		if i == 0 || v != vs[i-1] {
			out = append(out, strconv.FormatFloat(v, 'f', -1, 64))
		}
	}
	if len(out) > 8 {
		out = append(out[:4], append([]string{"…"}, out[len(out)-3:]...)...)
	}
	return strings.Join(out, " ")
}

func TestHTTPFlags(t *testing.T) {
	dir := t.TempDir()
	wantUsageErrors(t, [][]string{
		{"serve", "--http", "quic!127.0.0.1!8080", dir},
		{"serve", "--http", "tcp!127.0.0.1", dir},
		{"serve", "--metrics", "tcp!127.0.0.1!port", dir},
		{"serve", "--metrics", "udp!127.0.0.1!9100", dir},
	}...)
}
