package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/urfave/cli/v2"

	"github.com/rtp-project/rtp/collection"
	"github.com/rtp-project/rtp/swarm"
)

// maxLine bounds one line of an input list: an rtp: URL naming many servers
// is long, but not this long.
const maxLine = 1 << 20

// line is one download of an input list.
type line struct {
	n int // 1-based line number
	target
}

// readList reads one URL or name a line, skipping blank lines and lines
// whose first non-blank character is #. It returns every line that does
// not parse, as "FILE:N: why", so that all of them can be reported at once.
func readList(r io.Reader, name string) ([]line, []string, error) {
	var lines []line
	var bad []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	for n := 1; sc.Scan(); n++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		t, err := parseTarget(text)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s:%d: %v", name, n, err))
			continue
		}
		lines = append(lines, line{n: n, target: t})
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	return lines, bad, nil
}

// listSummary is what --json prints for each line of a list: one JSON
// object a line (JSON Lines), per download, in the order they end.
type listSummary struct {
	Line   int           `json:"line"`
	Input  string        `json:"input"`
	Error  string        `json:"error,omitempty"`
	Result *swarm.Result `json:"result,omitempty"`
	Tree   *treeSummary  `json:"tree,omitempty"` // for a tree's URL, instead of result
}

// list runs the downloads that -i names, -j at a time. Every line is
// checked first (syntax, and the output names of rtp: URLs, which must
// differ): any bad line exits 2 with nothing downloaded. Then it exits 1
// if any download failed, naming each on stderr.
func (g *getter) list(c *cli.Context, input string) error {
	if c.IsSet(flagOutput) {
		return cli.Exit("-o is for one URL; with -i each file takes its name from its URL (-C DIR for the folder)", 2)
	}
	if dir := c.String(flagDir); dir != "" {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return cli.Exit(fmt.Sprintf("-C %s: not a folder", dir), 2)
		}
	}
	r, name := io.Reader(os.Stdin), "stdin"
	if input != "-" {
		f, err := os.Open(input)
		if err != nil {
			return cli.Exit(fmt.Sprintf("-i: %v", err), 2)
		}
		defer f.Close()
		r, name = f, input
	}
	lines, bad, err := readList(r, name)
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	// Two downloads into one name would share NAME.part. owner maps each
	// output name to its line.
	owner := make(map[string]int)
	for _, l := range lines {
		if l.url == nil || c.Bool(flagResolve) {
			continue
		}
		pick := outputName
		if collection.IsCollection(l.url.Types) {
			pick = treeName // a folder: one there from a run before is resumed
		}
		out, err := pick(c, l.url)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s:%d: %v", name, l.n, err))
			continue
		}
		if prev, ok := owner[out]; ok {
			bad = append(bad, fmt.Sprintf("%s:%d: writes %s, as line %d does", name, l.n, out, prev))
			continue
		}
		owner[out] = l.n
	}
	if len(bad) > 0 {
		for _, b := range bad {
			fmt.Fprintln(os.Stderr, "rtpget:", b)
		}
		return cli.Exit(fmt.Sprintf("%s: %d bad lines; nothing downloaded", name, len(bad)), 2)
	}

	var mu sync.Mutex // guards owner (names of resolved Gemini lines) and stdout
	jobs := c.Int(flagJobs)
	g.bars = jobs == 1
	if !c.Bool(flagResolve) {
		// The name a Gemini line resolves to is known only now.
		g.claim = func(n int, out string) error {
			mu.Lock()
			defer mu.Unlock()
			if prev, ok := owner[out]; ok && prev != n {
				return fmt.Errorf("writes %s, as line %d does", out, prev)
			}
			owner[out] = n
			return nil
		}
	}
	ctx := c.Context
	sem := make(chan struct{}, jobs)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for _, l := range lines {
		if err := acquire(ctx, sem); err != nil {
			// Interrupted: what has not started counts as failed.
			failed.Add(1)
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			var res *swarm.Result
			var tree *treeSummary
			log := g.log.With("line", l.n)
			err := g.fetch(ctx, l.n, l.target, log, func(r any) {
				switch r := r.(type) {
				case *swarm.Result:
					res = r
				case *treeSummary:
					tree = r
				}
			})
			if err != nil {
				failed.Add(1)
				fmt.Fprintf(os.Stderr, "rtpget: %s:%d: %v\n", name, l.n, err)
			}
			if c.Bool(flagJSON) && !c.Bool(flagResolve) {
				s := listSummary{Line: l.n, Input: l.arg, Result: res, Tree: tree}
				if err != nil {
					s.Error = err.Error()
				}
				mu.Lock()
				defer mu.Unlock()
				json.NewEncoder(os.Stdout).Encode(s) // one line

			}
		})
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		return cli.Exit(fmt.Sprintf("%d of %d downloads failed", n, len(lines)), 1)
	}
	return nil
}

// acquire takes a slot of sem, or fails once ctx is done.
func acquire(ctx context.Context, sem chan struct{}) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	select {
	case sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return errors.New("interrupted")
	}
}
