package gemini

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	gmi "git.sr.ht/~adnano/go-gemini"

	"github.com/rtp-project/rtp/collstore"
	"github.com/rtp-project/rtp/internal/netlimit"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/urn"
)

// ServerConfig configures a Server.
type ServerConfig struct {
	// Index finds files by path. Required.
	Index store.PathIndex
	// Cert is the TLS certificate the face presents. Required.
	Cert tls.Certificate
	// Advertise are the RTP dial strings written into each rtp: URL, in
	// order. A dial whose host is unspecified (0.0.0.0 or ::) gets the host
	// the request named instead. Required.
	Advertise []rtpurl.Dial
	// Timeout bounds the TLS handshake and reading the request, and
	// separately writing the response. Zero means 30 s.
	Timeout time.Duration
	// MaxConns is how many connections are served at once; more wait to be
	// accepted. One remote address may hold a quarter of them; more from
	// it are closed at once. Zero means 256.
	MaxConns int
	// Log receives lookup failures. Zero means slog.Default().
	Log *slog.Logger
	// Trees keeps the manifests of folder trees: a gemini+rtp:// name
	// ending in '/' answers 30 with the URL of the folder's tree, its
	// manifest built from Index at each request and saved here (the RTP
	// server serves it from there). Zero means such names get the listing.
	Trees *collstore.Keeper
	// Root is the served folder, for the executable bits of a tree's files
	// (the index keeps no modes). Zero means none is marked executable.
	Root string
	// URNs are the urns a file's rtp: URL lists, in order. Zero means
	// blake3 alone (see store.Entry.URNs).
	URNs []urn.Kind
}

// Server is rtpd's Gemini face: gemini+rtp://host/PATH (or gemini://)
// answers 31 with the rtp: URL of the file now at PATH, a folder answers 20
// with a text/gemini listing, and anything else 51. See ServeGemini.
type Server struct {
	cfg ServerConfig
	log *slog.Logger
	gem *gmi.Server

	buildMu sync.Mutex // one tree built at a time: each walks the index
}

// NewServer returns a Server; call Listen and Serve to start it.
func NewServer(cfg ServerConfig) *Server {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 256
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	s := &Server{cfg: cfg, log: cfg.Log}
	s.gem = &gmi.Server{
		Handler:      s,
		ReadTimeout:  cfg.Timeout,
		WriteTimeout: cfg.Timeout,
		ErrorLog:     printfLogger{cfg.Log},
	}
	return s
}

// Listen binds d: tcp or tls, both meaning Gemini's TLS over TCP. The
// caller closes the listener, or Serve does.
func (s *Server) Listen(d rtpurl.Dial) (net.Listener, error) {
	if d.Proto != rtpurl.TCP && d.Proto != rtpurl.TLS {
		return nil, fmt.Errorf("gemini listen %s: Gemini runs over TLS on TCP: want tcp!host!port", d)
	}
	ln, err := net.Listen("tcp", d.Address())
	if err != nil {
		return nil, err
	}
	conf := &tls.Config{
		Certificates: []tls.Certificate{s.cfg.Cert},
		MinVersion:   tls.VersionTLS12,
	}
	return tls.NewListener(netlimit.Listen(ln, s.cfg.MaxConns, max(s.cfg.MaxConns/4, 1)), conf), nil
}

// Serve answers requests on ln, a listener from Listen, until ctx is done
// or Shutdown is called; it closes ln. It returns the reason it stopped.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	return s.gem.Serve(ctx, ln)
}

// Shutdown stops the listeners and waits, until ctx is done, for the
// requests being answered.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.gem.Shutdown(ctx)
}

// printfLogger passes go-gemini's accept errors to slog.
type printfLogger struct{ log *slog.Logger }

func (l printfLogger) Printf(format string, v ...any) {
	l.log.Warn(fmt.Sprintf(format, v...))
}
