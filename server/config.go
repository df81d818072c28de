package server

import (
	"log/slog"
	"time"

	"github.com/rtp-project/rtp/store"
)

// Config holds a server's settings. Every zero value means the default given.
type Config struct {
	Store store.Opener

	// MaxRead caps one READ's payload. Zero means 1 MiB.
	MaxRead int
	// MaxOpenTokens bounds the tokens one session holds. Zero means 1024.
	MaxOpenTokens int
	// MaxInflight bounds the READs of one session served at once; further
	// requests wait unread. Zero means 16.
	MaxInflight int
	// MaxOpening bounds the OPENs of one session waiting on the store at
	// once, each on a goroutine of its own; more wait in a queue, which
	// MaxOpenTokens bounds (an OPEN under way holds its token). Zero
	// means 16.
	MaxOpening int
	// MaxSessions bounds sessions across all listeners; past it, new
	// connections are closed at once. Zero means 4096.
	MaxSessions int
	// MaxSessionsPerHost bounds the sessions from one remote address. Zero
	// means 256.
	MaxSessionsPerHost int
	// IdleTimeout closes a session that has nothing in flight and sends no
	// request. Zero means 2 minutes.
	IdleTimeout time.Duration
	// RequestTimeout bounds the time from a request's first byte to its last,
	// so a client can't hold a session by trickling bytes. Zero means 10 s.
	RequestTimeout time.Duration
	// WriteTimeout closes a session whose peer accepts no bytes for this
	// long. Zero means 30 s.
	WriteTimeout time.Duration
	// HandshakeTimeout bounds a TLS handshake. Zero means 10 s.
	HandshakeTimeout time.Duration
	// TCP are the socket options of TCP listeners made by Listen; see
	// TCPOptions for each field's default.
	TCP TCPOptions
	// Logger zero means slog.Default().
	Logger *slog.Logger
	// Metrics receives counts of sessions, OPENs and READs. Zero means
	// none are counted.
	Metrics Metrics
}

func (c *Config) setDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxRead, 1<<20)
	def(&c.MaxOpenTokens, 1024)
	def(&c.MaxInflight, 16)
	def(&c.MaxOpening, 16)
	def(&c.MaxSessions, 4096)
	def(&c.MaxSessionsPerHost, 256)
	defDur(&c.IdleTimeout, 2*time.Minute)
	defDur(&c.RequestTimeout, 10*time.Second)
	defDur(&c.WriteTimeout, 30*time.Second)
	defDur(&c.HandshakeTimeout, 10*time.Second)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = nopMetrics{}
	}
}
