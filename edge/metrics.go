package edge

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// counters count what the edge does; Stats and Collect read them.
type counters struct {
	hits, misses, negHits   atomic.Uint64
	joined                  atomic.Uint64
	fillsDone, fillsFailed  atomic.Uint64
	fillBytes               atomic.Uint64
	evictions, evictedBytes atomic.Uint64
}

// Stats is a snapshot of an edge's counters and gauges.
type Stats struct {
	Hits         uint64 // OPENs answered from whole blobs in the cache
	Misses       uint64 // OPENs that started a fill
	Joined       uint64 // OPENs that joined a fill under way
	NegativeHits uint64 // OPENs answered "not found" from the negative cache
	FillsDone    uint64 // fills completed
	FillsFailed  uint64 // fills that ended without the blob (not found included)
	FillBytes    uint64 // bytes received from upstreams by fills: payload and trees
	Evictions    uint64 // whole blobs evicted
	EvictedBytes uint64
	Blobs        int   // whole blobs held
	Bytes        int64 // their bytes
	Reserved     int64 // bytes of the fills under way
	Filling      int   // fills under way
	Negative     int   // hashes in the negative cache
}

// Stats returns the edge's counters now.
func (e *Edge) Stats() Stats {
	e.mu.Lock()
	s := Stats{Blobs: len(e.blobs), Bytes: e.total, Reserved: e.reserved, Filling: len(e.fills), Negative: len(e.neg.m)}
	e.mu.Unlock()
	m := &e.met
	s.Hits, s.Misses, s.Joined, s.NegativeHits = m.hits.Load(), m.misses.Load(), m.joined.Load(), m.negHits.Load()
	s.FillsDone, s.FillsFailed, s.FillBytes = m.fillsDone.Load(), m.fillsFailed.Load(), m.fillBytes.Load()
	s.Evictions, s.EvictedBytes = m.evictions.Load(), m.evictedBytes.Load()
	return s
}

var (
	descOpens = prometheus.NewDesc("rtpd_edge_opens_total",
		"OPENs of blobs the edge answered, by cache result: hit (a whole blob held), miss (started a fill), joined (joined a fill under way), negative (not found, remembered).", []string{"result"}, nil)
	descFills = prometheus.NewDesc("rtpd_edge_fills_total",
		"Fills from upstream that ended, by result: done (the blob verified and kept) or failed (not found included).", []string{"result"}, nil)
	descFillBytes = prometheus.NewDesc("rtpd_edge_fill_bytes_total",
		"Bytes the edge received from its upstreams: blob payloads (counted as each fill ends, endgame copies included) and BLAKE3 trees.", nil, nil)
	descEvictions = prometheus.NewDesc("rtpd_edge_evictions_total",
		"Whole blobs evicted, least recently used first, to keep the cache within --cache-size.", nil, nil)
	descEvictedBytes = prometheus.NewDesc("rtpd_edge_evicted_bytes_total",
		"Bytes of the blobs evicted.", nil, nil)
	descCacheBytes = prometheus.NewDesc("rtpd_edge_cache_bytes",
		"Bytes of the whole blobs held.", nil, nil)
	descCacheBlobs = prometheus.NewDesc("rtpd_edge_cache_blobs",
		"Whole blobs held.", nil, nil)
	descFilling = prometheus.NewDesc("rtpd_edge_fills_in_flight",
		"Fills under way.", nil, nil)
	descReserved = prometheus.NewDesc("rtpd_edge_fill_reserved_bytes",
		"Bytes of the fills under way, counted against --cache-size.", nil, nil)
	descNegative = prometheus.NewDesc("rtpd_edge_negative_entries",
		"Hashes remembered as held by no upstream.", nil, nil)
)

var _ prometheus.Collector = (*Edge)(nil)

// Describe implements prometheus.Collector.
func (e *Edge) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descOpens, descFills, descFillBytes, descEvictions, descEvictedBytes,
		descCacheBytes, descCacheBlobs, descFilling, descReserved, descNegative} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (e *Edge) Collect(ch chan<- prometheus.Metric) {
	s := e.Stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	counter(descOpens, s.Hits, "hit")
	counter(descOpens, s.Misses, "miss")
	counter(descOpens, s.Joined, "joined")
	counter(descOpens, s.NegativeHits, "negative")
	counter(descFills, s.FillsDone, "done")
	counter(descFills, s.FillsFailed, "failed")
	counter(descFillBytes, s.FillBytes)
	counter(descEvictions, s.Evictions)
	counter(descEvictedBytes, s.EvictedBytes)
	gauge(descCacheBytes, float64(s.Bytes))
	gauge(descCacheBlobs, float64(s.Blobs))
	gauge(descFilling, float64(s.Filling))
	gauge(descReserved, float64(s.Reserved))
	gauge(descNegative, float64(s.Negative))
}
