package metrics

import (
	"context"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// descs are the metrics Collect writes from the counters; docs/http.md
// lists them.
type descs struct {
	sessionsOpen, sessionsTotal, rejected       *prometheus.Desc
	opens, reads, readBytes, inflight           *prometheus.Desc
	indexFiles, indexBytes, indexDB             *prometheus.Desc
	passRunning, passFiles, passFilesTotal      *prometheus.Desc
	passBytes, passBytesTotal                   *prometheus.Desc
	hashedFiles, hashedBytes, passes, indexErrs *prometheus.Desc
	httpBlobs, httpBytes                        *prometheus.Desc
}

func newDescs(cfg Config) descs {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	ds := descs{
		sessionsOpen:   d("rtpd_sessions_open", "Sessions being served, by transport (a QUIC stream is a session).", "transport"),
		sessionsTotal:  d("rtpd_sessions_total", "Sessions served since start, by transport.", "transport"),
		rejected:       d("rtpd_sessions_rejected_total", "Connections and QUIC streams refused before they became sessions, by reason.", "reason"),
		opens:          d("rtpd_opens_total", "OPEN requests answered, by result.", "result"),
		reads:          d("rtpd_reads_total", "READ requests answered, by result: data (payload sent whole), failed (payload not sent: file changed, read error, peer gone), empty, error (OPEN failed or never made).", "result"),
		readBytes:      d("rtpd_read_bytes_total", "READ payload bytes sent, by resource: blob (file bytes) or tree (BLAKE3 outboard). Counted when a payload has been written whole.", "resource"),
		inflight:       d("rtpd_reads_in_flight", "READs with a payload taken on and not yet written."),
		passRunning:    d("rtpd_hash_pass_running", "1 while an index pass is hashing files, else 0."),
		passFiles:      d("rtpd_hash_pass_hashed_files", "Files hashed so far by the running index pass, or by the last one."),
		passFilesTotal: d("rtpd_hash_pass_files", "Files the running (or last) index pass has to hash."),
		passBytes:      d("rtpd_hash_pass_hashed_bytes", "Bytes hashed so far by the running index pass, or by the last one."),
		passBytesTotal: d("rtpd_hash_pass_bytes", "Bytes the running (or last) index pass has to hash."),
		hashedFiles:    d("rtpd_hashed_files_total", "Files hashed since start."),
		hashedBytes:    d("rtpd_hashed_bytes_total", "Bytes hashed since start."),
		passes:         d("rtpd_hash_passes_total", "Index passes that hashed something, finished since start."),
		httpBlobs:      d("rtpd_http_blob_requests_total", "Requests for /sha256/ and /blake3/ on the HTTP face, by status code (200, 206, 304, 404, 416, other).", "code"),
		httpBytes:      d("rtpd_http_blob_bytes_total", "Blob bytes the HTTP face sent in response bodies."),
	}
	if cfg.Index != nil {
		ds.indexFiles = d("rtpd_index_files", "Files served (indexed), counted at scrape time.")
		ds.indexBytes = d("rtpd_index_bytes", "Total size of the files served, counted at scrape time.")
		ds.indexErrs = d("rtpd_index_errors_total", "Scrapes that could not read the index.")
	}
	if cfg.IndexFile != "" {
		ds.indexDB = d("rtpd_index_db_bytes", "Size of the bbolt index file.")
	}
	return ds
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	d := &m.descs
	for _, x := range []*prometheus.Desc{d.sessionsOpen, d.sessionsTotal, d.rejected, d.opens, d.reads, d.readBytes,
		d.inflight, d.passRunning, d.passFiles, d.passFilesTotal, d.passBytes, d.passBytesTotal,
		d.hashedFiles, d.hashedBytes, d.passes, d.httpBlobs, d.httpBytes, d.indexFiles, d.indexBytes, d.indexErrs, d.indexDB} {
		if x != nil {
			ch <- x
		}
	}
	m.latency.Describe(ch)
}

// Collect implements prometheus.Collector. It walks the index when
// Config.Index is set.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	d := &m.descs
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
	}
	counter := func(desc *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), labels...)
	}
	for i, t := range transports {
		gauge(d.sessionsOpen, float64(m.sessionsOpen[i].Load()), t)
		counter(d.sessionsTotal, m.sessionsTotal[i].Load(), t)
	}
	for i, r := range rejects {
		counter(d.rejected, m.rejected[i].Load(), r)
	}
	for i, r := range openResults {
		counter(d.opens, m.opens[i].Load(), r)
	}
	for i, r := range readResults {
		counter(d.reads, m.reads[i].Load(), r)
	}
	for i, r := range resources {
		counter(d.readBytes, m.readBytes[i].Load(), r)
	}
	gauge(d.inflight, float64(m.inflight.Load()))
	for i, c := range httpCodes {
		counter(d.httpBlobs, m.httpBlobs[i].Load(), c)
	}
	counter(d.httpBytes, m.httpBytes.Load())
	m.latency.Collect(ch)

	p := m.passNow()
	running := 0.0
	if p.running {
		running = 1
	}
	gauge(d.passRunning, running)
	gauge(d.passFiles, float64(p.last.Files))
	gauge(d.passFilesTotal, float64(p.last.FilesTotal))
	gauge(d.passBytes, float64(p.last.Bytes))
	gauge(d.passBytesTotal, float64(p.last.BytesTotal))
	counter(d.hashedFiles, p.hashedFiles)
	counter(d.hashedBytes, p.hashedBytes)
	counter(d.passes, p.passes)

	if m.cfg.Index != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		files, bytes, err := m.cfg.Index(ctx)
		cancel()
		if err == nil {
			gauge(d.indexFiles, float64(files))
			gauge(d.indexBytes, float64(bytes))
		} else {
			m.indexErrs.Add(1)
		}
		counter(d.indexErrs, m.indexErrs.Load())
	}
	if m.cfg.IndexFile != "" {
		if fi, err := os.Stat(m.cfg.IndexFile); err == nil {
			gauge(d.indexDB, float64(fi.Size()))
		}
	}
}
