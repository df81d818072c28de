package web

import (
	"context"
	"crypto/tls"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rtp-project/rtp/collstore"
	"github.com/rtp-project/rtp/gemini"
	"github.com/rtp-project/rtp/internal/netlimit"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/urn"
	"github.com/rtp-project/rtp/web/metrics"
)

// Config configures a Face.
type Config struct {
	// Store opens blobs by hash for GET /sha256/ and /blake3/. Required.
	Store store.Opener
	// Index lists the files for the page. Required.
	Index store.PathIndex
	// Advertise are the RTP dial strings written into each rtp: URL, in
	// order. A dial whose host is unspecified (0.0.0.0 or ::) gets the host
	// the request named instead, as the Gemini face does. Required.
	Advertise []rtpurl.Dial
	// Gemini are the dials of rtpd's Gemini face; the first names each
	// file's gemini+rtp:// name (its host replaced like Advertise's). Zero
	// means the page shows no Gemini names.
	Gemini []rtpurl.Dial
	// URNs are the urns a file's rtp: URL lists, in order. Zero means
	// blake3 alone (see store.Entry.URNs).
	URNs []urn.Kind
	// Live gives the figures the page shows live. Zero means none.
	Live func() metrics.Live
	// CountBlob is called after each blob request with its status code and
	// the body bytes sent. Zero means none are counted.
	CountBlob func(code int, bytes int64)
	// MaxList bounds the files the page lists; the rest are counted. Zero
	// means 10,000.
	MaxList int
	// Log receives failures. Zero means slog.Default().
	Log *slog.Logger
	// Trees keeps the manifests of folder trees: GET /tree/FOLDER/ builds
	// the folder's manifest from Index, saves it here (the RTP server
	// serves it from there) and answers the tree's rtp: URL as text/plain,
	// and the page lists each folder with that link. Zero means neither.
	Trees *collstore.Keeper
	// Root is the served folder, for the executable bits of a tree's files.
	// Zero means none is marked executable.
	Root string
}

// Face serves the page and the blobs. It is an http.Handler.
type Face struct {
	treeMu sync.Mutex // one tree built at a time: each walks the index
	cfg    Config
	log    *slog.Logger
	mux    *http.ServeMux
	rate   rateMeter
	https  *http.Server
}

//go:embed static
var static embed.FS

// maxConns is how many connections the face serves at once; more wait to
// be accepted. One remote address may hold a quarter of them.
const maxConns = 256

// New returns a Face; serve it with Listen and Serve, or as a handler.
func New(cfg Config) *Face {
	if cfg.MaxList <= 0 {
		cfg.MaxList = 10000
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	f := &Face{cfg: cfg, log: cfg.Log, mux: http.NewServeMux()}
	if cfg.Live != nil {
		f.rate.sample(cfg.Live())
	}
	f.mux.HandleFunc("GET /{$}", f.page)
	f.mux.HandleFunc("GET /live.json", f.live)
	f.mux.Handle("GET /static/", http.FileServerFS(static))
	f.mux.HandleFunc("GET /sha256/{hex}", f.blob)
	f.mux.HandleFunc("GET /blake3/{hex}", f.blob)
	if cfg.Trees != nil {
		f.mux.HandleFunc("GET /tree/{path...}", f.tree)
	}
	f.https = &http.Server{
		Handler:           f,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(cfg.Log.Handler(), slog.LevelDebug),
	}
	return f
}

// ServeHTTP implements http.Handler.
func (f *Face) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	f.mux.ServeHTTP(w, r)
}

// Listen binds d: tcp serves HTTP, tls serves HTTPS with tlsConf.
func (f *Face) Listen(d rtpurl.Dial, tlsConf *tls.Config) (net.Listener, error) {
	if d.Proto != rtpurl.TCP && d.Proto != rtpurl.TLS {
		return nil, fmt.Errorf("http listen %s: HTTP runs over TCP: want tcp!host!port or tls!host!port", d)
	}
	ln, err := net.Listen("tcp", d.Address())
	if err != nil {
		return nil, err
	}
	// A client that asks for a file and never reads holds its connection
	// (and a descriptor) as long as it likes: the cap keeps a flood of them
	// from taking every descriptor rtpd has, and one host from taking
	// every slot.
	ln = netlimit.Listen(ln, maxConns, maxConns/4)
	if d.Proto == rtpurl.TLS {
		conf := tlsConf.Clone()
		conf.NextProtos = []string{"h2", "http/1.1"}
		ln = tls.NewListener(ln, conf)
	}
	return ln, nil
}

// Serve answers requests on ln until Shutdown; it closes ln, and returns
// nil after Shutdown.
func (f *Face) Serve(ln net.Listener) error {
	err := f.https.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops the listeners and waits, until ctx is done, for the
// requests being answered; then it closes what is left.
func (f *Face) Shutdown(ctx context.Context) error {
	err := f.https.Shutdown(ctx)
	if err != nil {
		f.https.Close()
	}
	return err
}

// requestHost is the host the client reached the face by, without port.
func requestHost(r *http.Request) string {
	h := r.Host
	if host, _, err := net.SplitHostPort(h); err == nil {
		return host
	}
	return strings.Trim(h, "[]")
}

// servers returns the advertised dials, an unspecified host replaced by
// host; a host that cannot stand in a dial string drops such dials. (The
// Gemini face does the same.)
func (f *Face) servers(host string) []rtpurl.Dial {
	var ds []rtpurl.Dial
	for _, d := range f.cfg.Advertise {
		if d2, ok := withHost(d, host); ok {
			ds = append(ds, d2)
		}
	}
	return ds
}

func withHost(d rtpurl.Dial, host string) (rtpurl.Dial, bool) {
	if ip := net.ParseIP(d.Host); ip != nil && ip.IsUnspecified() {
		d.Host = host
		if _, err := rtpurl.ParseDial(d.String()); err != nil || host == "" {
			return d, false
		}
	}
	return d, true
}

// geminiBase returns "gemini+rtp://HOST[:PORT]" for the first Gemini dial,
// or "" when there is none.
func (f *Face) geminiBase(host string) string {
	if len(f.cfg.Gemini) == 0 {
		return ""
	}
	d, ok := withHost(f.cfg.Gemini[0], host)
	if !ok {
		return ""
	}
	hp := d.Host
	if strings.Contains(hp, ":") {
		hp = "[" + hp + "]"
	}
	if d.Port != gemini.DefaultPort {
		hp = net.JoinHostPort(d.Host, strconv.Itoa(d.Port))
	}
	return gemini.SchemeRTP + "://" + hp
}

// geminiName is the gemini+rtp:// name of path under base, each segment
// escaped as the Gemini face's listings write it.
func geminiName(base, path string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return base + "/" + strings.Join(segs, "/")
}
