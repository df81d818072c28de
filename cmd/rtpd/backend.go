package main

import (
	"fmt"
	"regexp"

	"github.com/urfave/cli/v2"

	"github.com/rtp-project/rtp/edge"
	"github.com/rtp-project/rtp/store"
)

// backendArg is the argument of serve and ls: what holds the blobs. Today
// that is a folder, or an edge cache (serve's --upstream, see edge.go);
// object storage (s3://BUCKET/PREFIX) is to plug in here, and nowhere else
// in rtpd: after openBackend, rtpd sees only a store.Backend.
type backendArg struct {
	dir  string       // the folder, as given
	edge *edge.Config // an edge over a cache folder, instead of dir
}

// urlScheme matches the start of an argument written as a URL: a scheme of
// two or more characters (one letter is a Windows drive), then "://".
var urlScheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]+://`)

// parseBackend reads the argument of the command cmd. A URL of a kind
// rtpd does not serve from is a usage error (exit 2) rather than the name
// of a folder that happens not to exist; a folder whose name looks like a
// URL can be given as ./NAME.
func parseBackend(cmd, arg string) (backendArg, error) {
	if m := urlScheme.FindString(arg); m != "" {
		return backendArg{}, cli.Exit(fmt.Sprintf("%s: backend %s not supported yet: give a folder (for a folder of that name, write ./%s)", cmd, m, arg), 2)
	}
	return backendArg{dir: arg}, nil
}

// openBackend opens the backend the argument names, with opts. It does not
// scan: the caller runs the first pass.
func openBackend(b backendArg, opts store.Options) (store.Backend, error) {
	if b.edge != nil {
		cfg := *b.edge
		cfg.Log = opts.Logger
		return edge.Open(cfg)
	}
	disk, err := store.OpenDisk(b.dir, opts)
	if err != nil {
		return nil, err
	}
	return disk, nil
}
