package edge

import (
	"log/slog"
	"time"

	"github.com/rtp-project/rtp/client"
	"github.com/rtp-project/rtp/rtpurl"
)

// Config configures an Edge. Zero values mean the defaults given.
type Config struct {
	// Upstreams are the servers blobs are filled from, in order of
	// preference: origins, or other edges. At least one is needed.
	Upstreams []rtpurl.Dial
	// Dir is the cache folder: it holds the index, the blobs, their trees
	// and the fills under way. It is created if missing.
	Dir string
	// MaxBytes is the cache size: whole blobs are evicted, least recently
	// used first, to keep the blobs held plus the fills under way within
	// it. A blob being read or filled is never evicted, so the bound is
	// MaxBytes plus those. It must be positive.
	MaxBytes int64
	// NegativeTTL is how long a hash that every upstream answered "not
	// found" for is answered "not found" without asking them again. Zero
	// means 30 s; negative turns the negative cache off.
	NegativeTTL time.Duration
	// Client dials the upstreams (TLS roots or pins for tls! and quic!).
	// Nil means client.Options' defaults.
	Client *client.Options
	// Stall bounds every wait on an upstream: the dial, the OPEN, each
	// round trip of the length probe and of the tree's fetch, and, in the
	// fill, a session that receives nothing (swarm.Config.Stall). Zero
	// means 10 s.
	Stall time.Duration
	// Self are the dial strings this process listens on: an upstream that
	// names one of them (its host one of this machine's addresses) is left
	// out, so that an edge never fills from itself.
	Self []rtpurl.Dial
	// Log zero means slog.Default().
	Log *slog.Logger

	// now is the clock of the negative cache; nil means time.Now. Tests
	// set it.
	now func() time.Time
}

func (c *Config) setDefaults() {
	if c.NegativeTTL == 0 {
		c.NegativeTTL = 30 * time.Second
	}
	if c.Stall <= 0 {
		c.Stall = 10 * time.Second
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.now == nil {
		c.now = time.Now
	}
}
