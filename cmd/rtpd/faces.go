package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/web"
	"github.com/rtp-project/rtp/web/metrics"
)

// newMetrics returns the counters behind --metrics and the HTTP face's live
// figures, the index gauges read from b at scrape time.
func newMetrics(b store.Backend) *metrics.Metrics {
	cfg := metrics.Config{Index: b.Count, IndexFile: b.IndexFile()}
	if c, ok := b.(prometheus.Collector); ok {
		cfg.Collectors = append(cfg.Collectors, c) // an edge's
	}
	return metrics.New(cfg)
}

// healthy reports whether rtpd can serve: its first index pass is done
// (until then /healthz answers 503 "indexing"), it is not shutting down and
// the backend is healthy (its index can be read).
func healthy(serving context.Context, b store.HealthChecker, indexed *atomic.Bool) func(context.Context) error {
	return func(ctx context.Context) error {
		if serving.Err() != nil {
			return errors.New("shutting down")
		}
		if !indexed.Load() {
			return errors.New("indexing")
		}
		return b.Health(ctx)
	}
}

// progressTo calls every non-nil fn.
func progressTo(fns ...func(store.ScanProgress)) func(store.ScanProgress) {
	var live []func(store.ScanProgress)
	for _, fn := range fns {
		if fn != nil {
			live = append(live, fn)
		}
	}
	if len(live) == 0 {
		return nil
	}
	return func(p store.ScanProgress) {
		for _, fn := range live {
			fn(p)
		}
	}
}

// httpFaces are rtpd's HTTP listeners: /metrics and /healthz on --metrics,
// the page and the blobs on --http.
type httpFaces struct {
	log     *slog.Logger
	metrics *http.Server // nil without --metrics
	face    *web.Face    // nil without --http
	bound   []boundHTTP
	// metricsBound are the --metrics dials as bound, port 0 resolved.
	metricsBound []rtpurl.Dial
}

type boundHTTP struct {
	what string // "metrics" or "http"
	dial rtpurl.Dial
	ln   net.Listener
}

// listen binds the --metrics and --http dials. tlsConf serves the tls! ones.
func (h *httpFaces) listen(metricsDials, httpDials []rtpurl.Dial, tlsConf *tls.Config) error {
	for _, d := range metricsDials {
		ln, err := net.Listen("tcp", d.Address())
		if err != nil {
			return fmt.Errorf("metrics: listen on %s: %w", d, err)
		}
		bd := rtpurl.DialFromAddr(d.Proto, ln.Addr())
		if d.Proto == rtpurl.TLS {
			conf := tlsConf.Clone()
			conf.NextProtos = []string{"h2", "http/1.1"} // not RTP's ALPN
			ln = tls.NewListener(ln, conf)
		}
		h.bound = append(h.bound, boundHTTP{"metrics", bd, ln})
		h.metricsBound = append(h.metricsBound, bd)
	}
	for _, d := range httpDials {
		ln, err := h.face.Listen(d, tlsConf)
		if err != nil {
			return fmt.Errorf("http: listen on %s: %w", d, err)
		}
		h.bound = append(h.bound, boundHTTP{"http", rtpurl.DialFromAddr(d.Proto, ln.Addr()), ln})
	}
	return nil
}

// serve serves the bound listeners of one kind, "metrics" or "http",
// until shutdown; a listener that fails sends its error to errc.
func (h *httpFaces) serve(ctx context.Context, what string, errc chan<- error, done func()) {
	var rest []boundHTTP
	for _, b := range h.bound {
		if b.what != what {
			rest = append(rest, b)
			continue
		}
		scheme := "http"
		if b.dial.Proto == rtpurl.TLS {
			scheme = "https"
		}
		url := scheme + "://" + b.dial.Address() + "/"
		if b.what == "metrics" {
			h.log.Info("serving metrics on "+b.dial.String(), "metrics", b.dial.String(), "url", url+"metrics")
		} else {
			h.log.Info("serving http on "+b.dial.String(), "http", b.dial.String(), "url", url)
		}
		go func() {
			defer done()
			var err error
			if b.what == "metrics" {
				err = h.metrics.Serve(b.ln)
			} else {
				err = h.face.Serve(b.ln)
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) && ctx.Err() == nil {
				errc <- fmt.Errorf("%s: %w", b.what, err)
			}
		}()
	}
	h.bound = rest
}

// close closes the listeners not yet served.
func (h *httpFaces) close() {
	for _, b := range h.bound {
		b.ln.Close()
	}
}

// shutdown stops both, letting requests in progress finish until ctx is
// done.
func (h *httpFaces) shutdown(ctx context.Context) {
	if h.metrics != nil {
		h.metrics.Shutdown(ctx)
	}
	if h.face != nil {
		h.face.Shutdown(ctx)
	}
}

// newHTTPFaces sets up the servers for the dials given; met may be nil
// only when both lists are empty.
func newHTTPFaces(log *slog.Logger, met *metrics.Metrics, health func(context.Context) error, metricsDials, httpDials []rtpurl.Dial, faceCfg web.Config) *httpFaces {
	h := &httpFaces{log: log}
	if len(metricsDials) > 0 {
		h.metrics = &http.Server{
			Handler:           metrics.Handler(met.Registry(), health),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      30 * time.Second,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		}
	}
	if len(httpDials) > 0 {
		faceCfg.Live = met.Live
		faceCfg.CountBlob = met.HTTPBlob
		faceCfg.Log = log
		h.face = web.New(faceCfg)
	}
	return h
}
