package store

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// WalkServed calls fn for each file under sub (a folder in root, slash
// separated, "" for root itself) that an rtpd serving root with opts
// serves, by the rules of its index pass (exclude.go), private keys
// included: with its slash-separated path in root and its FileInfo (the
// target's, for a symlink). It reads no index: it is for tools that list a
// folder as a serving rtpd, which holds the index's lock, would. What the
// rules leave out is logged to opts.Logger.
func WalkServed(ctx context.Context, root, sub string, opts Options, fn func(rel string, fi fs.FileInfo) error) error {
	abs, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return err
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	indexDir := filepath.Join(abs, DefaultIndexDir)
	if opts.Index != "" {
		if indexDir, err = filepath.Abs(filepath.Dir(opts.Index)); err != nil {
			return err
		}
		if r, err := filepath.EvalSymlinks(indexDir); err == nil {
			indexDir = r
		}
	}
	r, err := os.OpenRoot(abs)
	if err != nil {
		return err
	}
	defer r.Close()
	d := &Disk{dir: abs, root: r, indexDir: indexDir, opts: opts, log: opts.Logger, warned: make(map[string]string)}
	for _, p := range opts.Private {
		if fi, err := os.Stat(p); err == nil {
			d.private = append(d.private, fi)
		}
	}
	start := abs
	if sub != "" {
		if why := d.excludedDir(sub); why != "" {
			return fmt.Errorf("%s is not served: %s", sub, why)
		}
		start = filepath.Join(abs, filepath.FromSlash(sub))
	}
	var stats ScanStats
	return d.walkServed(ctx, start, &stats, func(rel string, fi fs.FileInfo) error {
		if d.keyFile(rel, fi.Size()) {
			return nil
		}
		return fn(rel, fi)
	})
}

// excludedDir says why the folder at rel (slash separated, in the served
// folder) is never served, or "" when the rules allow it.
func (d *Disk) excludedDir(rel string) string {
	if d.stateDir(d.dir) != "" {
		return "in an rtpd index folder"
	}
	abs := d.dir
	parts := strings.Split(rel, "/")
	for i, name := range parts {
		if name == "" || name == "." || name == ".." {
			return "not a clean path"
		}
		if d.skipped(name) {
			return "hidden or temporary"
		}
		abs = filepath.Join(abs, name)
		if why := d.stateDir(abs); why != "" {
			return why
		}
		// The pass walks no symlink to a folder.
		fi, err := d.root.Lstat(filepath.Join(parts[:i+1]...))
		if err != nil {
			return err.Error()
		}
		if !fi.IsDir() {
			return "not a folder (a symlink to one is not followed)"
		}
	}
	return ""
}
