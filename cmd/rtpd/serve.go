package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rtp-project/rtp/collstore"
	"github.com/rtp-project/rtp/gemini"
	"github.com/rtp-project/rtp/internal/cliutil"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/server"
	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/web"
	"github.com/rtp-project/rtp/web/metrics"
)

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:         "serve",
		Usage:        "index a folder and serve every file in it by sha256 and blake3",
		ArgsUsage:    "DIR | s3://BUCKET/PREFIX | --upstream DIAL --cache DIR --cache-size SIZE",
		OnUsageError: usageError,
		Flags: append([]cli.Flag{
			&cli.StringSliceFlag{Name: flagListen, Value: cli.NewStringSlice("tcp!0.0.0.0!7777"), Usage: "dial string to listen on (tcp!, tls! or quic!host!port), repeatable", EnvVars: envVar(flagListen)},
			&cli.StringFlag{Name: flagIndex, Usage: "bbolt index file (default DIR/.rtpd/index.db)", EnvVars: envVar(flagIndex)},
			&cli.DurationFlag{Name: flagRescan, Value: 30 * time.Second, Usage: "how often to look for added, changed and removed files", EnvVars: envVar(flagRescan)},
			&cli.StringFlag{Name: flagTLSCert, Usage: "TLS certificate (PEM) for tls and quic (default: self-signed, kept in the index folder)", EnvVars: envVar(flagTLSCert)},
			&cli.StringFlag{Name: flagTLSKey, Usage: "TLS key (PEM) for --tls-cert", EnvVars: envVar(flagTLSKey)},
			&cli.IntFlag{Name: flagMaxRead, Value: 1 << 20, Usage: "largest READ payload in bytes", EnvVars: envVar(flagMaxRead)},
			&cli.IntFlag{Name: flagMaxTokens, Value: 1024, Usage: "open tokens per session", EnvVars: envVar(flagMaxTokens)},
			&cli.IntFlag{Name: flagMaxInflight, Value: 16, Usage: "READs of one session served at once", EnvVars: envVar(flagMaxInflight)},
			&cli.IntFlag{Name: flagMaxOpening, Value: 16, Usage: "OPENs of one session waiting on the store at once (a slow store, such as a bucket, answers them in parallel); more wait their turn", EnvVars: envVar(flagMaxOpening)},
			&cli.IntFlag{Name: flagMaxSessions, Value: 4096, Usage: "sessions across all listeners", EnvVars: envVar(flagMaxSessions)},
			&cli.IntFlag{Name: flagMaxPerHost, Value: 256, Usage: "sessions per remote address", EnvVars: envVar(flagMaxPerHost)},
			&cli.DurationFlag{Name: flagIdleTimeout, Value: 2 * time.Minute, Usage: "close a session with nothing in flight after this long", EnvVars: envVar(flagIdleTimeout)},
			&cli.DurationFlag{Name: flagHandshake, Value: 10 * time.Second, Usage: "close a TLS or QUIC connection whose handshake takes longer", EnvVars: envVar(flagHandshake)},
			&cli.IntFlag{Name: flagHashWorkers, Usage: "files hashed at once (default: number of CPUs, at least 32 for files under 1 MiB)", EnvVars: envVar(flagHashWorkers)},
			&cli.StringSliceFlag{Name: flagGemini, Usage: "dial string to serve names on over Gemini (tcp!host!port, TLS with rtpd's certificate, port 1965 if omitted), repeatable: gemini+rtp://HOST/PATH redirects to the rtp: URL of the file now at PATH", EnvVars: envVar(flagGemini)},
			&cli.StringSliceFlag{Name: flagAdvertise, Usage: "dial string of a server that holds the files, written into the rtp: URLs the Gemini and HTTP faces hand out, repeatable (default: the listeners, a 0.0.0.0 or :: host replaced by the host the request named)", EnvVars: envVar(flagAdvertise)},
			&cli.StringSliceFlag{Name: flagMetrics, Usage: "dial string to serve Prometheus metrics on, at /metrics, and a health check at /healthz (tcp!host!port, or tls!host!port for HTTPS with rtpd's certificate), repeatable", EnvVars: envVar(flagMetrics)},
			&cli.StringSliceFlag{Name: flagHTTP, Usage: "dial string to serve the HTTP face on (tcp!host!port, or tls!host!port for HTTPS), repeatable: a page listing the files with their rtp: URLs, live sessions and throughput, and GET /sha256/HEX and /blake3/HEX with Range", EnvVars: envVar(flagHTTP)},
			&cli.StringFlag{Name: flagURLHash, Value: "blake3", Usage: urlHashUsage + ", in the rtp: URLs the Gemini and HTTP faces hand out for files", EnvVars: envVar(flagURLHash)},
			&cli.StringFlag{Name: flagTCPCC, Value: server.CongestionAuto, Usage: "TCP congestion control of tcp and tls sessions: a name the kernel offers (bbr, cubic, reno), auto for bbr when the kernel lets rtpd use it, adaptive for cubic that moves a session to bbr once it sees random loss (experimental), or kernel for the kernel's default", EnvVars: envVar(flagTCPCC)},
			&cli.IntFlag{Name: flagTCPSndbuf, Value: server.DefaultTCPSendBuffer, Usage: "TCP send buffer a session may grow to, in bytes (autotuned when net.ipv4.tcp_wmem allows it, else fixed); 0 leaves the kernel's autotuning", EnvVars: envVar(flagTCPSndbuf)},
			&cli.IntFlag{Name: flagTCPLowat, Value: server.DefaultTCPNotSentLowat, Usage: "bytes a TCP session queues beyond those in flight (TCP_NOTSENT_LOWAT); 0 leaves the kernel's setting", EnvVars: envVar(flagTCPLowat)},
			&cli.BoolFlag{Name: flagNoTrees, Usage: "do not build or serve BLAKE3 trees (clients then verify whole files only)", EnvVars: envVar(flagNoTrees)},
			hiddenFlag(),
			logLevelFlag(),
			logFormatFlag(),
		}, append(edgeFlags(), s3Flags()...)...),
		Action: serve,
	}
}

func serve(c *cli.Context) error {
	// SIGHUP (the terminal closed, or a reload by hand or by a service
	// manager) asks for a pass at once, as a reload, instead of killing
	// rtpd: it is taken from the start, and acted on once the backend is
	// open.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	arg, err := serveBackend(c)
	if err != nil {
		return err
	}
	log, err := newLogger(c)
	if err != nil {
		return err
	}
	dials, err := parseDials(flagListen, c.StringSlice(flagListen))
	if err != nil {
		return err
	}
	geminiDials, err := parseGeminiDials(c.StringSlice(flagGemini))
	if err != nil {
		return err
	}
	advertise, err := parseDials(flagAdvertise, c.StringSlice(flagAdvertise))
	if err != nil {
		return err
	}
	metricsDials, err := parseHTTPDials(flagMetrics, c.StringSlice(flagMetrics))
	if err != nil {
		return err
	}
	httpDials, err := parseHTTPDials(flagHTTP, c.StringSlice(flagHTTP))
	if err != nil {
		return err
	}
	urlKinds, err := parseURLHash(flagURLHash, c.String(flagURLHash))
	if err != nil {
		return err
	}
	if len(advertise) > 0 && len(geminiDials) == 0 && len(httpDials) == 0 {
		return cli.Exit(fmt.Sprintf("--%s is for the Gemini and HTTP faces: give --%s or --%s too", flagAdvertise, flagGemini, flagHTTP), 2)
	}
	for _, pos := range []string{flagMaxRead, flagMaxTokens, flagMaxInflight, flagMaxOpening, flagMaxSessions, flagMaxPerHost} {
		if c.Int(pos) <= 0 {
			return cli.Exit(fmt.Sprintf("--%s must be positive", pos), 2)
		}
	}
	for _, pos := range []string{flagRescan, flagIdleTimeout, flagHandshake} {
		if c.Duration(pos) <= 0 {
			return cli.Exit(fmt.Sprintf("--%s must be positive", pos), 2)
		}
	}
	tcpOpts, err := tcpOptions(c)
	if err != nil {
		return err
	}
	tcpReport, err := tcpOpts.Resolve()
	if err != nil {
		return cli.Exit(fmt.Sprintf("--%s: %v", flagTCPCC, err), 2)
	}
	ctx := c.Context

	var met *metrics.Metrics      // counts for --metrics and --http
	var srvMetrics server.Metrics // met, or nil: no counting
	var metProgress func(store.ScanProgress)
	counting := len(metricsDials) > 0 || len(httpDials) > 0
	if counting {
		// met is made as soon as the backend is open, before any pass.
		metProgress = func(p store.ScanProgress) { met.Progress(p) }
	}
	backend, err := openBackend(c, arg, store.Options{
		Index:    c.String(flagIndex),
		Workers:  c.Int(flagHashWorkers),
		NoTrees:  c.Bool(flagNoTrees),
		Hidden:   c.Bool(flagHidden),
		Private:  []string{c.String(flagTLSCert), c.String(flagTLSKey)},
		Logger:   log,
		Progress: progressTo(progressPrinter(), metProgress),
	})
	if err != nil {
		return err
	}
	defer backend.Close()
	go rescanOnHangup(c.Context, hup, backend, log)
	if counting {
		met = newMetrics(backend)
		srvMetrics = met
	}

	// The manifests of folder trees (rtpd url --tree, the Gemini and HTTP
	// faces' folder links) are served by hash beside the backend's files.
	keeper := collstore.NewKeeper(collstore.Dir(backend.IndexDir()), log)
	srv := server.New(server.Config{
		Store:              collstore.Wrap(backend, keeper),
		MaxRead:            c.Int(flagMaxRead),
		MaxOpenTokens:      c.Int(flagMaxTokens),
		MaxInflight:        c.Int(flagMaxInflight),
		MaxOpening:         c.Int(flagMaxOpening),
		MaxSessions:        c.Int(flagMaxSessions),
		MaxSessionsPerHost: c.Int(flagMaxPerHost),
		IdleTimeout:        c.Duration(flagIdleTimeout),
		HandshakeTimeout:   c.Duration(flagHandshake),
		TCP:                tcpOpts,
		Logger:             log,
		Metrics:            srvMetrics,
	})
	needTLS := false
	for _, d := range slices.Concat(dials, metricsDials, httpDials) {
		needTLS = needTLS || d.Proto != "tcp"
	}
	var cert tls.Certificate
	var tlsConf *tls.Config // tcp listeners ignore it
	var fingerprint string
	if needTLS || len(geminiDials) > 0 || c.String(flagTLSCert) != "" {
		cert, fingerprint, err = server.LoadOrCreateCert(c.String(flagTLSCert), c.String(flagTLSKey), backend.IndexDir())
		if err != nil {
			return fmt.Errorf("tls certificate: %w", err)
		}
		tlsConf = server.TLSConfig(cert)
	}

	// Bind every listener before the index pass, which may take hours: a
	// port in use or an address not of this host is reported at once. The
	// kernel queues connections until the pass is done and they are served;
	// only /metrics and /healthz answer during it.
	var lns []*server.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for _, d := range dials {
		l, err := srv.Listen(d, tlsConf)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", d, err)
		}
		lns = append(lns, l)
	}
	if len(advertise) == 0 {
		for _, l := range lns {
			advertise = append(advertise, l.Dial)
		}
	}
	face := gemini.NewServer(gemini.ServerConfig{Index: backend, Cert: cert, Advertise: advertise, Log: log, Trees: keeper, Root: backend.Location(), URNs: urlKinds})
	var gls []net.Listener
	defer func() {
		for _, l := range gls {
			l.Close()
		}
	}()
	for _, d := range geminiDials {
		l, err := face.Listen(d)
		if err != nil {
			return fmt.Errorf("gemini: listen on %s: %w", d, err)
		}
		gls = append(gls, l)
	}
	var geminiBound []rtpurl.Dial
	for _, l := range gls {
		geminiBound = append(geminiBound, rtpurl.DialFromAddr(rtpurl.TCP, l.Addr()))
	}
	var indexed atomic.Bool // the first pass is done: /healthz says ok
	faces := newHTTPFaces(log, met, healthy(ctx, backend, &indexed), metricsDials, httpDials,
		web.Config{Store: backend, Index: backend, Advertise: advertise, Gemini: geminiBound, Trees: keeper, Root: backend.Location(), URNs: urlKinds})
	defer faces.close()
	if err := faces.listen(metricsDials, httpDials, tlsConf); err != nil {
		return err
	}
	if fingerprint != "" {
		log.Info("tls certificate", "sha256", fingerprint)
	}

	errc := make(chan error, len(lns)+len(gls)+len(metricsDials)+len(httpDials))
	var wg sync.WaitGroup
	defer wg.Wait()
	stopFaces := func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		faces.shutdown(sctx)
	}
	wg.Add(len(metricsDials))
	faces.serve(ctx, "metrics", errc, wg.Done)
	if indexHook != nil {
		indexHook(faces.metricsBound)
	}
	st, err := backend.Scan(ctx)
	if err != nil {
		stopFaces()
		if ctx.Err() != nil {
			// Stopped by a signal: a clean stop, whatever was indexed.
			log.Info("shutting down during the index pass")
			return nil
		}
		return fmt.Errorf("index %s: %w", backend.Location(), err)
	}
	logScan(log, st)
	indexed.Store(true)

	go backend.Watch(ctx, c.Duration(flagRescan))
	// Said with the listeners, once all are bound: a failed start prints
	// only its reason.
	if slices.ContainsFunc(dials, func(d rtpurl.Dial) bool { return d.Proto != rtpurl.QUIC }) {
		logTCP(log, tcpReport)
	}
	for _, l := range lns {
		log.Info("listening on "+l.Dial.String(), "dial", l.Dial.String())
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- srv.ServeListener(ctx, l)
		}()
	}
	for _, l := range gls {
		d := rtpurl.DialFromAddr(rtpurl.TCP, l.Addr()).String()
		log.Info("serving gemini+rtp:// names on "+d, "gemini", d, "advertise", fmt.Sprint(advertise))
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Serve closes l; it returns when ctx is done or Shutdown stops it.
			if err := face.Serve(ctx, l); ctx.Err() == nil {
				errc <- fmt.Errorf("gemini: %w", err)
			}
		}()
	}
	gls = nil
	wg.Add(len(httpDials))
	faces.serve(ctx, "http", errc, wg.Done)
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err = <-errc:
		log.Error("listener failed", "err", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	face.Shutdown(sctx)
	faces.shutdown(sctx)
	wg.Wait()
	lns = nil
	if err != nil && !errors.Is(err, server.ErrServerClosed) {
		return err
	}
	return nil
}

// indexHook, set by tests only, runs when every listener is bound and
// /metrics and /healthz answer, just before the first index pass, with the
// bound --metrics dials.
var indexHook func(metrics []rtpurl.Dial)

func logScan(log *slog.Logger, st store.ScanStats) {
	secs := st.Elapsed.Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(st.HashedBytes) / secs / 1e6
	}
	log.Info("index pass done",
		"files", st.Files, "bytes", st.Bytes,
		"hashed_files", st.Hashed, "hashed_bytes", st.HashedBytes,
		"removed", st.Removed, "skipped", st.Skipped,
		"elapsed", st.Elapsed.Round(time.Millisecond), "hash_MBps", fmt.Sprintf("%.1f", rate))
}

// progressPrinter draws one updating line on a terminal, nothing otherwise.
func progressPrinter() func(store.ScanProgress) {
	if !cliutil.IsTerminal(os.Stderr) {
		return nil
	}
	return func(p store.ScanProgress) {
		rate := float64(p.Bytes) / max(p.Elapsed.Seconds(), 1e-3) / 1e6
		fmt.Fprintf(os.Stderr, "\rindexing %d/%d files, %.1f/%.1f GB, %.0f MB/s ",
			p.Files, p.FilesTotal, float64(p.Bytes)/1e9, float64(p.BytesTotal)/1e9, rate)
		if p.Done {
			fmt.Fprintln(os.Stderr)
		}
	}
}

// tcpOptions reads the --tcp-* flags; 0 means the kernel's own setting.
func tcpOptions(c *cli.Context) (server.TCPOptions, error) {
	o := server.TCPOptions{Congestion: c.String(flagTCPCC), SendBuffer: c.Int(flagTCPSndbuf), NotSentLowat: c.Int(flagTCPLowat)}
	for _, f := range []string{flagTCPSndbuf, flagTCPLowat} {
		if c.Int(f) < 0 {
			return o, cli.Exit(fmt.Sprintf("--%s must be 0 or positive", f), 2)
		}
	}
	if o.Congestion == "" {
		o.Congestion = server.CongestionKernel
	}
	if o.SendBuffer == 0 {
		o.SendBuffer = -1
	}
	if o.NotSentLowat == 0 {
		o.NotSentLowat = -1
	}
	return o, nil
}

// logTCP says once what the TCP sockets get, and what to raise when the
// send buffer is short of the one asked.
func logTCP(log *slog.Logger, r server.TCPReport) {
	if r.Short() {
		log.Warn(r.String(), r.Attrs()...)
		return
	}
	log.Info(r.String(), r.Attrs()...)
}

// rescanOnHangup asks backend for a pass on each SIGHUP, until ctx is done.
func rescanOnHangup(ctx context.Context, hup <-chan os.Signal, backend any, log *slog.Logger) {
	r, ok := backend.(interface{ Rescan() })
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if !ok {
				log.Info("SIGHUP: nothing to look through again")
				continue
			}
			log.Info("SIGHUP: looking for added, changed and removed files now")
			r.Rescan()
		}
	}
}
