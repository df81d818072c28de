// Package metrics counts what rtpd does and exports it to Prometheus: the
// sessions, OPENs and READs of package server (through server.Metrics), the
// index pass's progress (through store.Options.Progress) and the index's
// size, read at scrape time. docs/http.md lists every metric.
//
//	m := metrics.New(metrics.Config{Index: countFiles, IndexFile: "/srv/blobs/.rtpd/index.db"})
//	srv := server.New(server.Config{Store: disk, Metrics: m})
//	http.Serve(ln, metrics.Handler(m.Registry(), health)) // /metrics and /healthz
//
// Counting costs an atomic add per event and a histogram observation per
// READ; nothing is done per byte.
package metrics
