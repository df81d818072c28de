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
	d.private = statAll(opts.Private)
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
	if why := d.excluded(rel); why != "" {
		return why
	}
	if why := d.stateDir(filepath.Join(d.dir, filepath.FromSlash(rel))); why != "" {
		return why
	}
	if !d.realFolders(strings.Split(rel, "/")) {
		return "not a folder, or reached through a symlink (the pass follows none to a folder)"
	}
	return ""
}

// realFolders reports whether the path of the names, in the served folder,
// is a folder reached through folders only, no symlink: the way the pass
// walks.
func (d *Disk) realFolders(names []string) bool {
	for i := range names {
		if fi, err := d.root.Lstat(filepath.Join(names[:i+1]...)); err != nil || !fi.IsDir() {
			return false
		}
	}
	return true
}
