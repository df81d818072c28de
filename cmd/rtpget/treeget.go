package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rtp-project/rtp/collection"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/swarm"
)

// treeFile is one file of a manifest.
type treeFile = collection.Entry

// smallMax: contents up to this size go to the lanes (pipelined over
// shared sessions, verified in memory); bigger ones each get a swarm.
const smallMax = 4 << 20

// bigJobs is how many big files are fetched at once, each by its own swarm.
const bigJobs = 2

// treeName is the target folder: -o, else the URL's dn made safe, inside -C.
func treeName(c *cli.Context, u *rtpurl.URL) (string, error) {
	name := c.String(flagOutput)
	switch {
	case name == "-":
		return "", cli.Exit("-o -: a tree is a folder, it cannot go to stdout", 2)
	case name == "":
		name = safeName(u.Name)
		if name == "" {
			return "", cli.Exit("the URL is a tree (t="+collection.MediaType+") with no usable dn=: name its folder with -o DIR", 2)
		}
	}
	if dir := c.String(flagDir); dir != "" {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return "", cli.Exit(fmt.Sprintf("-C %s: not a folder", show(dir)), 2)
		}
		name = filepath.Join(dir, name)
	}
	if fi, err := os.Stat(name); err == nil && !fi.IsDir() {
		return "", cli.Exit(fmt.Sprintf("%s exists and is not a folder", show(name)), 2)
	}
	return name, nil
}

// fetchTree downloads the tree u names (line n of a list, 0 for the
// argument). Errors carry exit codes.
func (g *getter) fetchTree(ctx context.Context, n int, u *rtpurl.URL, log *slog.Logger, summarize func(any)) error {
	c := g.c
	name, err := treeName(c, u)
	if err != nil {
		return err
	}
	lim := collection.Limits{MaxFiles: c.Int(flagMaxFiles)}
	switch {
	case u.Length < 0:
		return cli.Exit("a tree URL must give l=, the manifest's length, so that it is checked before the manifest is fetched", 2)
	case u.Length > lim.MaxLength():
		return cli.Exit(fmt.Sprintf("the manifest's l=%d is more than %d files can take (%d bytes; --%s)", u.Length, lim.MaxFiles, lim.MaxLength(), flagMaxFiles), 2)
	}
	if g.claim != nil {
		if err := g.claim(n, name); err != nil {
			return cli.Exit(err.Error(), 1)
		}
	}
	m, err := g.fetchManifest(ctx, u, log, lim)
	if err != nil {
		return cli.Exit(err.Error(), 1)
	}
	tf := &treeFetch{g: g, u: u, name: name, log: log, manifest: m, summarize: summarize}
	if err := tf.run(ctx); err != nil {
		return cli.Exit(err.Error(), 1)
	}
	return nil
}

// swarmConfig is the swarm configuration the flags give, for u.
func (g *getter) swarmConfig(u *rtpurl.URL, log *slog.Logger) swarm.Config {
	c := g.c
	return swarm.Config{
		URL: u, Client: g.opts, Log: log,
		Stall: c.Duration(flagStall), RetryFor: c.Duration(flagRetryFor), Sessions: c.Int(flagSessions), Window: c.Int(flagWindow),
		MaxSessions: c.Int(flagMaxSess), MaxInFlight: int64(c.Int(flagInFlight)) << 20,
		NoTree: c.Bool(flagNoTree), Verify: g.verify,
	}
}

// fetchManifest downloads and verifies the manifest like any file, into an
// unlinked temporary file, and parses it.
func (g *getter) fetchManifest(ctx context.Context, u *rtpurl.URL, log *slog.Logger, lim collection.Limits) (*collection.Manifest, error) {
	f, err := os.CreateTemp("", "rtpget-manifest-*")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name())
	defer f.Close()
	res, err := swarm.New(g.swarmConfig(u, log)).Run(ctx, f, "", nil)
	if err != nil {
		return nil, fmt.Errorf("fetching the manifest: %w", err)
	}
	m, err := collection.Parse(io.NewSectionReader(f, 0, res.Length), lim)
	if err != nil {
		return nil, fmt.Errorf("the manifest %s is refused: %w", u.Hashes[0], err)
	}
	return m, nil
}

// treeFetch is one tree download.
type treeFetch struct {
	g         *getter
	u         *rtpurl.URL
	name      string
	log       *slog.Logger
	manifest  *collection.Manifest
	summarize func(any)
	dir       *treeDir
	st        *treeState
	start     time.Time
	lanes     *lanes
	refused   *refusals // servers whose certificate was refused
	sum       treeSummary

	mu       sync.Mutex // guards what follows, and sum's counts
	failures []string
	servers  map[string]int64
	swarms   map[*swarm.Download]int64 // running, and their sizes
	bigDone  int64                     // bytes of big files verified
	placed   chan struct{}             // closed when the placer is done
	writes   chan verifiedBytes        // small contents to write
}

// treeSummary is --json's summary of a tree.
type treeSummary struct {
	Tree          string       `json:"tree"`
	Manifest      string       `json:"manifest"`
	Files         int          `json:"files"` // in the manifest
	Bytes         int64        `json:"bytes"`
	Selected      int          `json:"selected_files"` // after --include/--exclude
	SelectedBytes int64        `json:"selected_bytes"`
	Skipped       int          `json:"skipped_files"` // excluded by them
	Present       int          `json:"present_files"` // already there with their hashes
	PresentBytes  int64        `json:"present_bytes"`
	Fetched       int          `json:"fetched_files"` // distinct contents fetched
	Copied        int          `json:"copied_files"`  // paths filled by a local copy of identical content
	Placed        int          `json:"placed_files"`  // paths written this run
	FetchedBytes  int64        `json:"fetched_bytes"` // payload bytes received, all servers
	Deleted       int          `json:"deleted_files,omitempty"`
	Failed        int          `json:"failed_files"`
	Errors        []string     `json:"errors,omitempty"` // the first 100, "path: why"
	Servers       []treeServer `json:"servers"`
	Seconds       float64      `json:"elapsed_seconds"`
	Verified      []string     `json:"verified"` // hash kinds checked for every file
}

type treeServer struct {
	Server string `json:"server"`
	Bytes  int64  `json:"bytes"`
}

// failFile records a path that could not be placed.
func (t *treeFetch) failFile(p string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sum.Failed++
	if len(t.failures) < 100 {
		t.failures = append(t.failures, show(p)+": "+err.Error())
	}
	t.log.Info("file failed", "file", p, "err", err)
}

func (t *treeFetch) failContent(c *content, err error) {
	for _, f := range c.paths {
		t.failFile(f.Path, err)
	}
}

func (t *treeFetch) addServer(name string, n int64) {
	t.mu.Lock()
	t.servers[name] += n
	t.mu.Unlock()
}

// finishSummary fills the counts and prints the summary or the last line;
// it returns the run's error.
func (t *treeFetch) finish(err error) error {
	s := &t.sum
	s.Seconds = time.Since(t.start).Seconds()
	s.Errors = t.failures
	if t.lanes != nil {
		for _, ls := range t.lanes.servers {
			t.servers[ls.dial.String()] += ls.bytes.Load()
		}
	}
	s.Servers = []treeServer{}
	for _, d := range t.u.Servers {
		b := t.servers[d.String()]
		s.Servers = append(s.Servers, treeServer{d.String(), b})
		s.FetchedBytes += b
	}
	if err == nil && s.Failed > 0 {
		err = fmt.Errorf("%d of %d files failed, first %s; run the same command again to resume", s.Failed, s.Selected, t.failures[0])
	}
	switch {
	case t.g.c.Bool(flagJSON) && t.summarize != nil:
		t.summarize(s)
	case t.g.c.Bool(flagJSON):
		(&job{}).encode(os.Stdout, s)
	case !t.g.c.Bool(flagQuiet) && err == nil:
		what := fmt.Sprintf("%d files, %s", s.Selected, size(s.SelectedBytes))
		if s.Skipped > 0 {
			what = fmt.Sprintf("%d of %d files, %s of %s (--include/--exclude)", s.Selected, s.Files, size(s.SelectedBytes), size(s.Bytes))
		}
		fmt.Fprintf(os.Stderr, "%s: %s in %.1fs: fetched %d (%s), copied %d, %d already there; verified %s\n",
			show(t.name), what, s.Seconds, s.Fetched, size(s.FetchedBytes), s.Copied, s.Present, strings.Join(s.Verified, " "))
	}
	return err
}

var errInterrupted = errors.New("interrupted; what is verified is kept, run the same command again to resume")
