package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rtp-project/rtp/client"
	"github.com/rtp-project/rtp/edge"
)

// Flags of serve that make rtpd an edge: a pull-through cache of its
// upstreams (package edge).
const (
	flagUpstream     = "upstream"
	flagUpstreamPin  = "upstream-pin"
	flagCache        = "cache"
	flagCacheSize    = "cache-size"
	flagNegativeTTL  = "negative-ttl"
	flagUpstreamWait = "upstream-stall"
)

func edgeFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: flagUpstream, Usage: "serve as an edge: fill blobs asked for and not held from this server (tcp!, tls! or quic!host!port), repeatable, in order of preference; needs --cache and --cache-size, and no folder argument", EnvVars: envVar(flagUpstream)},
		&cli.StringSliceFlag{Name: flagUpstreamPin, Usage: "SHA-256 fingerprint (hex) of an upstream's TLS certificate to accept whoever signed it, repeatable (default: the system's roots)", EnvVars: envVar(flagUpstreamPin)},
		&cli.StringFlag{Name: flagCache, Usage: "an edge's cache folder: its index, the blobs, their trees and the fills under way", EnvVars: envVar(flagCache)},
		&cli.StringFlag{Name: flagCacheSize, Usage: "an edge's cache size, e.g. 50G (K, M, G, T: powers of 1024; KB, MB, GB, TB: of 1000): whole blobs are evicted least recently used past it, never one being read or filled", EnvVars: envVar(flagCacheSize)},
		&cli.DurationFlag{Name: flagNegativeTTL, Value: 30 * time.Second, Usage: "how long an edge answers \"not found\" for a hash no upstream held, without asking them again (0 turns it off)", EnvVars: envVar(flagNegativeTTL)},
		&cli.DurationFlag{Name: flagUpstreamWait, Value: 10 * time.Second, Usage: "an edge's bound on each wait on an upstream: the dial, the OPEN, each round trip of the length probe, a fill session that receives nothing", EnvVars: envVar(flagUpstreamWait)},
	}
}

// serveBackend reads what serve is to serve: a folder argument, or, with
// --upstream, an edge over the --cache folder (and no argument).
func serveBackend(c *cli.Context) (backendArg, error) {
	if len(c.StringSlice(flagUpstream)) == 0 {
		for _, f := range []string{flagCache, flagCacheSize, flagUpstreamPin} {
			if c.IsSet(f) {
				return backendArg{}, cli.Exit(fmt.Sprintf("serve: --%s is for an edge: give --%s too", f, flagUpstream), 2)
			}
		}
		switch c.NArg() {
		case 0:
			return backendArg{}, cli.Exit("serve: want the folder to serve, e.g. rtpd serve ./blobs (or --upstream and --cache for an edge)", 2)
		case 1:
		default:
			return backendArg{}, cli.Exit(fmt.Sprintf("serve: want one folder, got %d arguments: %q", c.NArg(), c.Args().Slice()), 2)
		}
		return parseBackend("serve", c.Args().First())
	}
	if c.NArg() > 0 {
		return backendArg{}, cli.Exit(fmt.Sprintf("serve: an edge (--%s) serves its --%s folder, not a folder argument: drop %q", flagUpstream, flagCache, c.Args().Slice()), 2)
	}
	ups, err := parseDials(flagUpstream, c.StringSlice(flagUpstream))
	if err != nil {
		return backendArg{}, err
	}
	self, err := parseDials(flagListen, c.StringSlice(flagListen))
	if err != nil {
		return backendArg{}, err
	}
	if c.String(flagCache) == "" {
		return backendArg{}, cli.Exit(fmt.Sprintf("serve: an edge needs --%s DIR, the folder it keeps blobs in", flagCache), 2)
	}
	if !c.IsSet(flagCacheSize) {
		return backendArg{}, cli.Exit(fmt.Sprintf("serve: an edge needs --%s, e.g. --%s 50G", flagCacheSize, flagCacheSize), 2)
	}
	size, err := parseSize(c.String(flagCacheSize))
	if err != nil {
		return backendArg{}, cli.Exit(fmt.Sprintf("--%s: %v", flagCacheSize, err), 2)
	}
	if c.Duration(flagNegativeTTL) < 0 || c.Duration(flagUpstreamWait) <= 0 {
		return backendArg{}, cli.Exit(fmt.Sprintf("--%s must be 0 or positive, --%s positive", flagNegativeTTL, flagUpstreamWait), 2)
	}
	if c.IsSet(flagIndex) || c.Bool(flagNoTrees) || c.Bool(flagHidden) {
		return backendArg{}, cli.Exit(fmt.Sprintf("serve: --%s, --%s and --%s are for a folder; an edge keeps its index and trees in --%s", flagIndex, flagNoTrees, flagHidden, flagCache), 2)
	}
	ttl := c.Duration(flagNegativeTTL)
	if ttl == 0 {
		ttl = -1 // off
	}
	cfg := &edge.Config{
		Upstreams:   ups,
		Dir:         c.String(flagCache),
		MaxBytes:    size,
		NegativeTTL: ttl,
		Stall:       c.Duration(flagUpstreamWait),
		Self:        self,
	}
	if pins := c.StringSlice(flagUpstreamPin); len(pins) > 0 {
		cfg.Client = &client.Options{Pins: pins}
	}
	return backendArg{edge: cfg}, nil
}

// parseSize reads a byte count: a number, optionally with a unit K, M, G,
// T (powers of 1024, also written KiB...) or KB, MB, GB, TB (of 1000).
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   float64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40}, {"B", 1},
	}
	mult := 1.0
	for _, u := range units {
		if rest, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(v) || v*mult < 1 || v*mult > math.MaxInt64/2 {
		return 0, fmt.Errorf("%q is not a size: want e.g. 50G, 500M or 1T", s)
	}
	return int64(v * mult), nil
}
