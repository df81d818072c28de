package metrics

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/server"
	"github.com/rtp-project/rtp/store"
)

// Config says where the gauges that are read at scrape time come from.
type Config struct {
	// Index counts the files served and their bytes; Metrics calls it at
	// each scrape. Zero means the index gauges are left out.
	Index func(ctx context.Context) (files int, bytes int64, err error)
	// IndexFile is the bbolt index, whose size is reported. Zero means
	// rtpd_index_db_bytes is left out.
	IndexFile string
	// Collectors are registered beside the counters by Registry: what a
	// backend counts of its own (an edge's fills). Zero means none.
	Collectors []prometheus.Collector
}

// Label values, in the order of the arrays below.
var (
	transports  = []string{rtpurl.TCP, rtpurl.TLS, rtpurl.QUIC}
	rejects     = []string{server.RejectMaxSessions, server.RejectMaxPerHost, server.RejectHandshake, server.RejectShutdown}
	openResults = []string{server.OpenOK, server.OpenNotFound, server.OpenUnsupportedScheme, server.OpenMalformedURN,
		server.OpenTokenInUse, server.OpenTooManyTokens, server.OpenError}
	readResults = []string{readData, readFailed, readEmpty, readError}
	resources   = []string{"blob", "tree"}
	httpCodes   = []string{"200", "206", "304", "404", "416", "other"}
)

const (
	readData   = "data"   // the payload was sent whole
	readFailed = "failed" // it had a payload that was not sent
	readEmpty  = "empty"  // answered with no payload: at or past the end, or length 0
	readError  = "error"  // its OPEN failed or was never made
)

// Metrics counts what an rtpd does. It is a server.Metrics, a
// prometheus.Collector, and takes the index pass's progress. Every method
// is safe for concurrent use; the counting ones are atomic adds.
type Metrics struct {
	cfg Config

	sessionsOpen  [3]atomic.Int64 // by transport
	sessionsTotal [3]atomic.Uint64
	rejected      [4]atomic.Uint64 // by reject reason
	opens         [7]atomic.Uint64 // by OPEN result
	reads         [4]atomic.Uint64 // by read result
	readBytes     [2]atomic.Uint64 // by resource
	inflight      atomic.Int64
	latency       prometheus.Histogram
	indexErrs     atomic.Uint64    // scrapes whose index walk failed
	httpBlobs     [6]atomic.Uint64 // by status code
	httpBytes     atomic.Uint64

	pmu  sync.Mutex // guards pass; Progress runs a few times a second
	pass passState

	descs descs
}

var _ server.Metrics = (*Metrics)(nil)
var _ prometheus.Collector = (*Metrics)(nil)

// New returns Metrics with everything at zero.
func New(cfg Config) *Metrics {
	return &Metrics{
		cfg: cfg,
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "rtpd_read_duration_seconds",
			Help: "Time from reading a READ request to writing its payload's last byte, for READs with a payload (waits for a READ slot and for the session's write side included).",
			// 100 µs to about 100 s.
			Buckets: prometheus.ExponentialBuckets(100e-6, 4, 11),
		}),
		descs: newDescs(cfg),
	}
}

func transportIndex(t string) int {
	switch t {
	case rtpurl.TLS:
		return 1
	case rtpurl.QUIC:
		return 2
	}
	return 0
}

func indexOf(vals []string, v string) int {
	for i, x := range vals {
		if x == v {
			return i
		}
	}
	return len(vals) - 1 // the catch-all last value
}

// SessionStarted implements server.Metrics.
func (m *Metrics) SessionStarted(transport string) {
	i := transportIndex(transport)
	m.sessionsOpen[i].Add(1)
	m.sessionsTotal[i].Add(1)
}

// SessionEnded implements server.Metrics.
func (m *Metrics) SessionEnded(transport string) {
	m.sessionsOpen[transportIndex(transport)].Add(-1)
}

// SessionRejected implements server.Metrics.
func (m *Metrics) SessionRejected(reason string) { m.rejected[indexOf(rejects, reason)].Add(1) }

// Opened implements server.Metrics.
func (m *Metrics) Opened(result string) { m.opens[indexOf(openResults, result)].Add(1) }

// ReadStarted implements server.Metrics.
func (m *Metrics) ReadStarted() { m.inflight.Add(1) }

// ReadDone implements server.Metrics. The READ leaves rtpd_reads_in_flight
// last, once its bytes are counted: a scrape that sees no READ in flight
// sees every payload sent.
func (m *Metrics) ReadDone(r server.ReadStat) {
	defer m.inflight.Add(-1)
	if r.Failed {
		m.reads[1].Add(1)
	} else {
		m.reads[0].Add(1)
	}
	res := 0
	if r.Tree {
		res = 1
	}
	m.readBytes[res].Add(uint64(r.Bytes))
	m.latency.Observe(r.Elapsed.Seconds())
}

// ReadAnswered implements server.Metrics.
func (m *Metrics) ReadAnswered(empty bool) {
	if empty {
		m.reads[2].Add(1)
	} else {
		m.reads[3].Add(1)
	}
}

// HTTPBlob counts a blob request of the HTTP face answered with code,
// having sent n bytes of body.
func (m *Metrics) HTTPBlob(code int, n int64) {
	m.httpBlobs[indexOf(httpCodes, strconv.Itoa(code))].Add(1)
	m.httpBytes.Add(uint64(n))
}

// passState is the index pass's progress: the last pass's figures until
// the next one starts.
type passState struct {
	running     bool
	last        store.ScanProgress
	hashedFiles uint64 // over all passes
	hashedBytes uint64
	passes      uint64 // passes that hashed something, finished
}

// Progress takes the index pass's progress (store.Options.Progress).
func (m *Metrics) Progress(p store.ScanProgress) {
	m.pmu.Lock()
	defer m.pmu.Unlock()
	ps := &m.pass
	if !ps.running {
		ps.running, ps.last = true, store.ScanProgress{}
	}
	ps.hashedFiles += uint64(max(p.Files-ps.last.Files, 0))
	ps.hashedBytes += uint64(max(p.Bytes-ps.last.Bytes, 0))
	ps.last = p
	if p.Done {
		ps.running = false
		ps.passes++
	}
}

func (m *Metrics) passNow() passState {
	m.pmu.Lock()
	defer m.pmu.Unlock()
	return m.pass
}

// Live is a snapshot of the figures the HTTP face shows.
type Live struct {
	Sessions      map[string]int64 `json:"sessions"` // open, by transport
	ReadsInFlight int64            `json:"reads_in_flight"`
	BytesServed   uint64           `json:"bytes_served"`      // READ payloads sent, blobs and trees
	HTTPBytes     uint64           `json:"http_bytes_served"` // blob bytes sent by the HTTP face
	Hashing       bool             `json:"hashing"`           // an index pass is hashing files
	Time          time.Time        `json:"time"`
}

// Live returns the figures now.
func (m *Metrics) Live() Live {
	l := Live{Sessions: make(map[string]int64, len(transports)), Time: time.Now()}
	for i, t := range transports {
		l.Sessions[t] = m.sessionsOpen[i].Load()
	}
	l.ReadsInFlight = m.inflight.Load()
	l.BytesServed = m.readBytes[0].Load() + m.readBytes[1].Load()
	l.HTTPBytes = m.httpBytes.Load()
	l.Hashing = m.passNow().running
	return l
}
