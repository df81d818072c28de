package main

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/rtp-project/rtp/edge"
	"github.com/rtp-project/rtp/s3store"
	"github.com/rtp-project/rtp/store"
)

// backendArg is the argument of serve and ls: what holds the blobs, a
// folder or a prefix of an S3 bucket (s3://BUCKET/PREFIX), or for serve an
// edge cache (--upstream, see edge.go). This is the one place in rtpd that
// knows the kinds: after openBackend, rtpd sees only a store.Backend.
type backendArg struct {
	dir  string            // the folder, as given
	s3   *s3store.Location // or the bucket and prefix
	edge *edge.Config      // or an edge over a cache folder
}

// urlScheme matches the start of an argument written as a URL: a scheme of
// two or more characters (one letter is a Windows drive), then "://".
var urlScheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]+://`)

// parseBackend reads the argument of the command cmd. A URL of a kind
// rtpd does not serve from is a usage error (exit 2) rather than the name
// of a folder that happens not to exist; a folder whose name looks like a
// URL can be given as ./NAME.
func parseBackend(cmd, arg string) (backendArg, error) {
	m := urlScheme.FindString(arg)
	switch {
	case m == "":
		return backendArg{dir: arg}, nil
	case strings.EqualFold(m, "s3://"):
		loc, err := s3store.ParseURL(arg)
		if err != nil {
			return backendArg{}, cli.Exit(fmt.Sprintf("%s: %v (for a folder of that name, write ./%s)", cmd, err, arg), 2)
		}
		return backendArg{s3: &loc}, nil
	}
	return backendArg{}, cli.Exit(fmt.Sprintf("%s: backend %s not supported yet: give a folder or s3://BUCKET/PREFIX (for a folder of that name, write ./%s)", cmd, m, arg), 2)
}

// openBackend opens the backend the argument names, with opts and, for a
// bucket, the --s3-* flags of c (a folder ignores them). It does not scan: the caller runs the
// first pass.
func openBackend(c *cli.Context, b backendArg, opts store.Options) (store.Backend, error) {
	if b.edge != nil {
		cfg := *b.edge
		cfg.Log = opts.Logger
		return edge.Open(cfg)
	}
	if b.s3 != nil {
		cfg, err := s3Config(c)
		if err != nil {
			return nil, err
		}
		return s3store.Open(*b.s3, cfg, opts)
	}
	if f := s3FlagSet(c); f != "" && opts.Logger != nil {
		// Not an error: an environment file may set the s3 flags for
		// whichever backend it names.
		opts.Logger.Warn("--" + f + " is for an s3://BUCKET/PREFIX backend; ignored for a folder")
	}
	disk, err := store.OpenDisk(b.dir, opts)
	if err != nil {
		return nil, err
	}
	return disk, nil
}
