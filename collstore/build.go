package collstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/rtp-project/rtp/collection"
	"github.com/rtp-project/rtp/store"
)

// ErrEmpty is returned by Build for a folder with no indexed file.
var ErrEmpty = errors.New("no indexed file under this folder")

// Build returns the entries of the manifest of dir (slash-separated,
// relative to the served folder; "" for all of it): every file the index
// serves under it, paths relative to dir. Each entry is looked up again
// (store.PathIndex.Lookup), so that a file changed since it was hashed
// fails the build with an error wrapping store.ErrChanged (and the rescan
// it triggers hashes it) rather than give a tree whose bytes no longer
// exist. A path that breaks collection.CheckPath is left out with one
// warning to log. Exec comes from the file's mode, read from root (the
// served folder) when root is a local folder; the index keeps no modes.
// More files than collection.DefaultMaxFiles fail the build: readers would
// refuse the manifest.
func Build(ctx context.Context, idx store.PathIndex, root, dir string, log *slog.Logger) ([]collection.Entry, error) {
	if log == nil {
		log = slog.Default()
	}
	dir = strings.Trim(dir, "/")
	prefix := ""
	if dir != "" {
		prefix = dir + "/"
	}
	var paths []string
	err := idx.ListUnder(ctx, dir, func(e store.Entry) error {
		if len(paths) >= collection.DefaultMaxFiles {
			return fmt.Errorf("%q holds more than %d files, more than a reader accepts in one tree", dir, collection.DefaultMaxFiles)
		}
		paths = append(paths, e.Path)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("%q: %w", dir, ErrEmpty)
	}
	local := false
	if fi, err := os.Stat(root); err == nil && fi.IsDir() && filepath.IsAbs(root) {
		local = true
	}
	es := make([]collection.Entry, 0, len(paths))
	for _, p := range paths {
		rel := strings.TrimPrefix(p, prefix)
		if err := collection.CheckPath(rel); err != nil {
			log.Warn("left out of the tree's manifest: its name breaks the path rules", "folder", dir, "path", p, "err", err)
			continue
		}
		e, err := idx.Lookup(ctx, p)
		if errors.Is(err, os.ErrNotExist) {
			continue // gone since the listing
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		ce := collection.Entry{Path: rel, Size: e.Size, BLAKE3: e.BLAKE3, SHA256: e.SHA256}
		if local {
			if fi, err := os.Stat(filepath.Join(root, filepath.FromSlash(p))); err == nil {
				ce.Exec = fi.Mode().Perm()&0o111 != 0
			}
		}
		es = append(es, ce)
	}
	return es, nil
}
