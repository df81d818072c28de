package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rtp-project/rtp/internal/rtpdtest"
	"github.com/rtp-project/rtp/server"
	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/web/metrics"
)

func TestScrape(t *testing.T) {
	index := filepath.Join(t.TempDir(), "index.db")
	os.WriteFile(index, make([]byte, 4096), 0o644)
	m := metrics.New(metrics.Config{
		Index:     func(context.Context) (int, int64, error) { return 3, 12345, nil },
		IndexFile: index,
	})
	m.SessionStarted("tcp")
	m.SessionStarted("quic")
	m.SessionStarted("quic")
	m.SessionEnded("quic")
	m.SessionRejected(server.RejectMaxPerHost)
	m.Opened(server.OpenOK)
	m.Opened(server.OpenOK)
	m.Opened(server.OpenNotFound)
	m.ReadStarted()
	m.ReadStarted()
	m.ReadDone(server.ReadStat{Bytes: 1 << 20, Elapsed: 3 * time.Millisecond})
	m.ReadStarted()
	m.ReadDone(server.ReadStat{Tree: true, Bytes: 520, Elapsed: time.Millisecond})
	m.ReadAnswered(true)
	m.Progress(store.ScanProgress{Files: 1, FilesTotal: 4, Bytes: 100, BytesTotal: 1000})

	health := errors.New("index unreadable")
	var sick bool
	srv := httptest.NewServer(metrics.Handler(m.Registry(), func(context.Context) error {
		if sick {
			return health
		}
		return nil
	}))
	defer srv.Close()
	got := rtpdtest.Scrape(t, srv.URL+"/metrics")
	for series, want := range map[string]float64{
		`rtpd_sessions_open{transport="tcp"}`:                          1,
		`rtpd_sessions_open{transport="quic"}`:                         1,
		`rtpd_sessions_total{transport="quic"}`:                        2,
		`rtpd_sessions_total{transport="tls"}`:                         0,
		`rtpd_sessions_rejected_total{reason="max_sessions_per_host"}`: 1,
		`rtpd_opens_total{result="ok"}`:                                2,
		`rtpd_opens_total{result="not_found"}`:                         1,
		`rtpd_reads_total{result="data"}`:                              2,
		`rtpd_reads_total{result="empty"}`:                             1,
		`rtpd_read_bytes_total{resource="blob"}`:                       1 << 20,
		`rtpd_read_bytes_total{resource="tree"}`:                       520,
		`rtpd_reads_in_flight`:                                         1,
		`rtpd_read_duration_seconds_count`:                             2,
		`rtpd_read_duration_seconds_bucket{le="0.0016"}`:               1,
		`rtpd_index_files`:                                             3,
		`rtpd_index_bytes`:                                             12345,
		`rtpd_index_db_bytes`:                                          4096,
		`rtpd_hash_pass_running`:                                       1,
		`rtpd_hash_pass_hashed_bytes`:                                  100,
		`rtpd_hash_pass_bytes`:                                         1000,
		`rtpd_hash_pass_files`:                                         4,
		`rtpd_hashed_bytes_total`:                                      100,
	} {
		if v, ok := got[series]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", series, v, ok, want)
		}
	}
	if _, ok := got["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}

	// The pass ends; a second pass counts from zero, the total goes on.
	m.Progress(store.ScanProgress{Files: 4, FilesTotal: 4, Bytes: 1000, BytesTotal: 1000, Done: true})
	m.Progress(store.ScanProgress{Files: 1, FilesTotal: 1, Bytes: 50, BytesTotal: 50})
	got = rtpdtest.Scrape(t, srv.URL+"/metrics")
	if got[`rtpd_hashed_bytes_total`] != 1050 || got[`rtpd_hashed_files_total`] != 5 || got[`rtpd_hash_passes_total`] != 1 || got[`rtpd_hash_pass_hashed_bytes`] != 50 {
		t.Errorf("after a second pass: hashed %v bytes, %v files, %v passes, %v this pass; want 1050, 5, 1, 50",
			got[`rtpd_hashed_bytes_total`], got[`rtpd_hashed_files_total`], got[`rtpd_hash_passes_total`], got[`rtpd_hash_pass_hashed_bytes`])
	}

	for _, tc := range []struct {
		sick bool
		code int
		body string
	}{{false, 200, "ok\n"}, {true, 503, "unhealthy: index unreadable\n"}} {
		sick = tc.sick
		resp, err := http.Get(srv.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || string(b) != tc.body {
			t.Errorf("/healthz: %d %q, want %d %q", resp.StatusCode, b, tc.code, tc.body)
		}
	}
}

func TestLive(t *testing.T) {
	m := metrics.New(metrics.Config{})
	m.SessionStarted("tls")
	m.ReadStarted()
	m.ReadDone(server.ReadStat{Bytes: 10})
	m.ReadStarted()
	m.ReadDone(server.ReadStat{Bytes: 5, Tree: true})
	l := m.Live()
	if l.Sessions["tls"] != 1 || l.Sessions["tcp"] != 0 || l.BytesServed != 15 || l.ReadsInFlight != 0 {
		t.Errorf("live %+v; want 1 tls session, 15 bytes, none in flight", l)
	}
}
