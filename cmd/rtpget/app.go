package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rtp-project/rtp/client"
	"github.com/rtp-project/rtp/collection"
	"github.com/rtp-project/rtp/gemini"
	"github.com/rtp-project/rtp/internal/cliutil"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/swarm"
)

const (
	flagOutput   = "output"
	flagDir      = "dir"
	flagQuiet    = "quiet"
	flagVerbose  = "verbose"
	flagJSON     = "json"
	flagInsecure = "insecure"
	flagCA       = "ca"
	flagPin      = "pin"
	flagStall    = "stall"
	flagRetryFor = "retry-for"
	flagSessions = "sessions"
	flagWindow   = "window"
	flagMaxSess  = "max-sessions"
	flagInFlight = "max-inflight"
	flagNoTree   = "no-tree"
	flagVerify   = "verify"
	flagResolve  = "resolve"
	flagKnown    = "known-hosts"
	flagInput    = "input-file"
	flagJobs     = "jobs"
	flagComplete = "completion"
	flagForce    = "force"
	flagNoClob   = "no-clobber"
	flagInclude  = "include"
	flagExclude  = "exclude"
	flagDelete   = "delete"
	flagMaxFiles = "max-files"
)

func envVar(flag string) []string {
	return []string{"RTPGET_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))}
}

func usageError(_ *cli.Context, err error, _ bool) error { return cli.Exit(err.Error(), 2) }

func getApp() *cli.App {
	// urfave/cli gives --version the alias -v, which is -v(erbose) here.
	cli.VersionFlag = cliutil.VersionFlag
	return &cli.App{
		Name:         "rtpget",
		Usage:        "download a file by hash from the servers an rtp: URL lists, verified; or first resolve a gemini+rtp:// name to its rtp: URL",
		ArgsUsage:    "'rtp:?u=urn:sha256:…&l=…&s=tcp!host!7777' | gemini+rtp://host[:port]/path",
		Version:      cliutil.Version(),
		OnUsageError: usageError,
		// No commands: the first argument is always a URL or name.
		HideHelpCommand: true,
		// -vv, -qk and the like.
		UseShortOptionHandling: true,
		// main prints errors and exits; the default handler would exit first.
		ExitErrHandler: func(*cli.Context, error) {},
		Flags: []cli.Flag{
			&cli.StringFlag{Name: flagOutput, Aliases: []string{"o"}, Usage: "output file, - for stdout (default: the URL's dn, else the hash)", EnvVars: envVar(flagOutput)},
			&cli.BoolFlag{Name: flagForce, Usage: "replace an existing regular file at the output name whose bytes are not the URL's (a file that has its hashes is always kept, and nothing fetched)", EnvVars: envVar(flagForce)},
			&cli.BoolFlag{Name: flagNoClob, Usage: "never replace an existing file (the default; for scripts that say so, against --force)"},
			&cli.StringFlag{Name: flagDir, Aliases: []string{"C"}, Usage: "folder to write into", EnvVars: envVar(flagDir)},
			&cli.BoolFlag{Name: flagQuiet, Aliases: []string{"q"}, Usage: "print nothing but errors", EnvVars: envVar(flagQuiet)},
			&cli.BoolFlag{Name: flagVerbose, Aliases: []string{"v"}, Count: new(int), Usage: "log more: -v for retries and server changes, -vv for debugging"},
			&cli.BoolFlag{Name: flagJSON, Usage: "print a JSON summary when done (to stdout, or stderr with -o -)", EnvVars: envVar(flagJSON)},
			&cli.DurationFlag{Name: flagStall, Value: 10 * time.Second, Usage: "give up on a server session that receives nothing for this long; also the limit of every other wait on a server (connect, TLS/QUIC handshake, OPEN, tree, length probe)", EnvVars: envVar(flagStall)},
			&cli.DurationFlag{Name: flagRetryFor, Value: 60 * time.Second, Usage: "retry a failing server, with backoff, for this long from its first failure (any bytes it sends restart the clock); then drop it", EnvVars: envVar(flagRetryFor)},
			&cli.IntFlag{Name: flagSessions, Usage: "sessions per server (QUIC streams or connections); default, when the URL names one server, one more than the cores (2 to 4), so receiving and checking keep every core busy; else 1", DefaultText: "auto", EnvVars: envVar(flagSessions)},
			&cli.IntFlag{Name: flagWindow, Usage: "fewest READs of 1 MiB in flight per session; a session keeps more when its measured rate times round trip asks for it, within --max-inflight; default 8, or 4 when a server has several sessions", DefaultText: "auto", EnvVars: envVar(flagWindow)},
			&cli.IntFlag{Name: flagMaxSess, Usage: "most sessions per server: on a path with a round trip of 5 ms or more, sessions are added one at a time while each makes the server faster (16 in all at most); equal to --sessions, none are added", DefaultText: "8", EnvVars: envVar(flagMaxSess)},
			&cli.IntFlag{Name: flagInFlight, Usage: "most MiB of READs in flight in the whole download beyond each session's --window: what sockets and QUIC buffers may hold for it", Value: 64, EnvVars: envVar(flagInFlight)},
			&cli.BoolFlag{Name: flagNoTree, Usage: "do not fetch the BLAKE3 tree to check bytes as they arrive: verify the whole file at the end", EnvVars: envVar(flagNoTree)},
			&cli.StringFlag{Name: flagVerify, Value: "all", Usage: "which of the URL's hashes must match: all (every urn it names, as RTP/1 asks: beside the blake3 one, checked as bytes arrive, the others cost one more pass over the file) or one (its blake3 urn only, else its first urn: faster, for a URL whose urns you trust alike)", EnvVars: envVar(flagVerify)},
			&cli.BoolFlag{Name: flagInsecure, Aliases: []string{"k"}, Usage: "do not verify TLS certificates, nor a Gemini server's against known hosts (the content is still verified by hash)", EnvVars: envVar(flagInsecure)},
			&cli.BoolFlag{Name: flagResolve, Usage: "print the rtp: URL a gemini+rtp:// name resolves to, and download nothing", EnvVars: envVar(flagResolve)},
			&cli.StringFlag{Name: flagKnown, Usage: "file pinning Gemini servers' certificates on first use (default $XDG_CONFIG_HOME/rtpget/known_hosts)", EnvVars: envVar(flagKnown)},
			&cli.StringSliceFlag{Name: flagPin, Usage: "accept a TLS/QUIC server certificate by its SHA-256 fingerprint (hex, as rtpd logs it) instead of a CA, repeatable", EnvVars: envVar(flagPin)},
			&cli.StringFlag{Name: flagCA, Usage: "PEM file of CA certificates to trust for TLS and QUIC instead of the system roots", EnvVars: envVar(flagCA)},
			&cli.StringFlag{Name: flagInput, Aliases: []string{"i"}, Usage: "read rtp: URLs or gemini+rtp:// names from `FILE` (- for stdin), one a line; blank lines and # comments skipped; every line is checked before any download starts", EnvVars: envVar(flagInput)},
			&cli.IntFlag{Name: flagJobs, Aliases: []string{"j"}, Value: 2, Usage: "with -i, downloads at once (progress bars only with -j 1)", EnvVars: envVar(flagJobs)},
			&cli.StringSliceFlag{Name: flagInclude, Usage: "for a tree: fetch only the files matching `GLOB` (repeatable): without /, a file name at any depth (*.json); with /, the whole path, ** for any folders (data/**/*.parquet); dir/ for everything under dir", EnvVars: envVar(flagInclude)},
			&cli.StringSliceFlag{Name: flagExclude, Usage: "for a tree: skip the files matching `GLOB` (repeatable; as --include, and wins over it)", EnvVars: envVar(flagExclude)},
			&cli.BoolFlag{Name: flagDelete, Usage: "for a tree: once every file is in place, delete the files in the folder that the manifest does not list (never rtpget's .rtpget folder, never outside the folder)", EnvVars: envVar(flagDelete)},
			&cli.IntFlag{Name: flagMaxFiles, Value: 1000000, Usage: "for a tree: refuse a manifest listing more files (its l= is checked against this before it is fetched)", EnvVars: envVar(flagMaxFiles)},
			&cli.StringFlag{Name: flagComplete, Usage: "print a completion script for `SHELL` (bash, zsh or fish) and exit"},
		},
		Action: get,
	}
}

func get(c *cli.Context) error {
	if sh := c.String(flagComplete); sh != "" {
		return completion(c, sh)
	}
	input := c.String(flagInput)
	switch {
	case input != "" && c.NArg() > 0:
		return cli.Exit(fmt.Sprintf("-i %s reads the URLs from a file: give no URL beside it", input), 2)
	case input == "" && c.NArg() != 1:
		return cli.Exit("want one rtp: URL or gemini+rtp:// name (or -i FILE)", 2)
	}
	var t target
	if input == "" {
		var err error
		if t, err = parseTarget(c.Args().First()); err != nil {
			return cli.Exit(err.Error(), 2)
		}
	}
	g, err := newGetter(c)
	if err != nil {
		return err
	}
	if input != "" {
		return g.list(c, input)
	}
	return g.fetch(c.Context, 0, t, g.log, nil)
}

// target is one thing to download: an rtp: URL, or a Gemini name that is
// resolved to one when its download starts.
type target struct {
	arg string
	url *rtpurl.URL // nil for a Gemini name
}

// parseTarget checks an argument or input line without touching the network.
func parseTarget(arg string) (target, error) {
	if gemini.IsName(arg) {
		_, err := gemini.ParseName(arg)
		return target{arg: arg}, err
	}
	u, err := rtpurl.Parse(arg)
	return target{arg: arg, url: u}, err
}

// getter holds what every download of one rtpget run shares.
type getter struct {
	c    *cli.Context
	opts *client.Options
	log  *slog.Logger
	// bars allows the progress display (still only on a terminal).
	bars bool
	// claim, when set, reserves an output name for line n of a list; it
	// fails if another line writes that name.
	claim func(n int, name string) error
	// verify is --verify.
	verify swarm.Verify
	// filter is --include and --exclude, for trees.
	filter *treeFilter
}

// newGetter checks the flags every download uses; a bad one exits 2.
func newGetter(c *cli.Context) (*getter, error) {
	opts, err := clientOptions(c)
	if err != nil {
		return nil, err
	}
	for _, pos := range []string{flagSessions, flagWindow, flagMaxSess, flagInFlight, flagJobs, flagMaxFiles} {
		if c.Int(pos) <= 0 && (pos == flagJobs || pos == flagMaxFiles || c.IsSet(pos)) {
			return nil, cli.Exit(fmt.Sprintf("--%s must be positive", pos), 2)
		}
	}
	// Before anything is fetched, for files and trees alike.
	if c.Bool(flagForce) && c.Bool(flagNoClob) {
		return nil, cli.Exit(fmt.Sprintf("--%s and --%s contradict each other", flagForce, flagNoClob), 2)
	}
	for _, pos := range []string{flagStall, flagRetryFor} {
		if c.Duration(pos) <= 0 {
			return nil, cli.Exit(fmt.Sprintf("--%s must be positive", pos), 2)
		}
	}
	level := slog.LevelWarn
	switch n := c.Count(flagVerbose); {
	case n >= 2:
		level = slog.LevelDebug
	case n == 1:
		level = slog.LevelInfo
	}
	// "rtpget: warning: …" on a terminal, key=value lines otherwise.
	log, err := cliutil.NewLogger("rtpget", os.Stderr, "auto", level)
	if err != nil {
		return nil, err
	}
	verify, err := swarm.ParseVerify(c.String(flagVerify))
	if err != nil {
		return nil, cli.Exit(err.Error(), 2)
	}
	filter, err := newTreeFilter(c.StringSlice(flagInclude), c.StringSlice(flagExclude))
	if err != nil {
		return nil, cli.Exit(err.Error(), 2)
	}
	return &getter{c: c, opts: opts, log: log, bars: true, verify: verify, filter: filter}, nil
}

// fetch resolves t (line n of a list, 0 for the argument) if it is a
// Gemini name, then downloads it to its output name. With summarize set,
// the --json summary goes to it instead of stdout. Errors carry exit codes:
// 2 for bad input, 1 for a failed download.
func (g *getter) fetch(ctx context.Context, n int, t target, log *slog.Logger, summarize func(any)) error {
	c := g.c
	raw, u := t.arg, t.url
	if u == nil {
		var err error
		if raw, u, err = resolve(ctx, c, log, t.arg); err != nil {
			return cli.Exit(err.Error(), 1)
		}
	}
	if c.Bool(flagResolve) {
		fmt.Println(raw)
		return nil
	}
	for _, s := range u.Skipped {
		log.Warn("skipping a server with an unknown protocol", "s", s)
	}
	if collection.IsCollection(u.Types) {
		return g.fetchTree(ctx, n, u, log, summarize)
	}
	name, err := outputName(c, u)
	if err != nil {
		return err
	}
	if g.claim != nil {
		if err := g.claim(n, name); err != nil {
			return cli.Exit(err.Error(), 1)
		}
	}
	j := &job{
		url: u, name: name, log: log, fromURL: !c.IsSet(flagOutput), force: c.Bool(flagForce),
		quiet: c.Bool(flagQuiet), json: c.Bool(flagJSON), noBars: !g.bars, cfg: g.swarmConfig(u, log),
	}
	if summarize != nil {
		j.summarize = func(r *swarm.Result) { summarize(r) }
	}
	if err := j.run(ctx); err != nil {
		return cli.Exit(err.Error(), 1)
	}
	return nil
}

func clientOptions(c *cli.Context) (*client.Options, error) {
	conf := &tls.Config{InsecureSkipVerify: c.Bool(flagInsecure)}
	if ca := c.String(flagCA); ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, cli.Exit(fmt.Sprintf("--%s: %v", flagCA, err), 2)
		}
		conf.RootCAs = x509.NewCertPool()
		if !conf.RootCAs.AppendCertsFromPEM(pem) {
			return nil, cli.Exit(fmt.Sprintf("--%s: no certificates in %s", flagCA, ca), 2)
		}
	}
	pins := c.StringSlice(flagPin)
	for _, p := range pins {
		if b, err := hex.DecodeString(p); err != nil || len(b) != sha256.Size {
			return nil, cli.Exit(fmt.Sprintf("--%s %q: want 64 hex digits", flagPin, p), 2)
		}
	}
	return &client.Options{TLS: conf, Pins: pins}, nil
}

// resolve asks the name's Gemini server for its rtp: URL, with the stall
// timeout as the limit of each request.
func resolve(ctx context.Context, c *cli.Context, log *slog.Logger, name string) (string, *rtpurl.URL, error) {
	r := &gemini.Resolver{Timeout: c.Duration(flagStall), Log: log}
	if !c.Bool(flagInsecure) {
		kh, err := gemini.OpenKnownHosts(c.String(flagKnown))
		if err != nil {
			return "", nil, err
		}
		r.KnownHosts = kh
	}
	raw, u, err := r.Resolve(ctx, name)
	if err != nil {
		return "", nil, err
	}
	log.Info("resolved", "name", name, "url", raw)
	return raw, u, nil
}

// outputName picks -o, else the URL's dn made safe (safeName), else the hex
// of the first hash, inside -C. What is at that name is looked at by the
// job: see findOutput.
func outputName(c *cli.Context, u *rtpurl.URL) (string, error) {
	name := c.String(flagOutput)
	if name == "-" {
		return name, nil
	}
	if name == "" {
		name = safeName(u.Name)
		if name == "" {
			name = u.Hashes[0].Hex()
		}
	}
	if dir := c.String(flagDir); dir != "" {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return "", cli.Exit(fmt.Sprintf("-C %s: not a folder", show(dir)), 2)
		}
		name = filepath.Join(dir, name)
	}
	if fi, err := os.Stat(name); err == nil && fi.IsDir() {
		return "", cli.Exit(fmt.Sprintf("%s is a folder", show(name)), 2)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", cli.Exit(err.Error(), 2)
	}
	return name, nil
}
