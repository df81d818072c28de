package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/rtp-project/rtp/collection"
	"github.com/rtp-project/rtp/collstore"
	"github.com/rtp-project/rtp/internal/cliutil"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/urn"
)

const flagTree = "tree"

// printTreeURL is rtpd url --tree DIR: it hashes every file under DIR (a
// serving rtpd holds its index's lock, so the index cannot be read), writes
// the manifest where that rtpd finds it, and prints the tree's URL.
func printTreeURL(c *cli.Context, kinds []urn.Kind, servers []rtpurl.Dial) error {
	if c.NArg() != 1 {
		return cli.Exit("url --tree: want one folder", 2)
	}
	dir, err := filepath.Abs(c.Args().First())
	if err != nil {
		return cli.Exit(err.Error(), 1)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return cli.Exit(fmt.Sprintf("url --tree: %s is not a folder", c.Args().First()), 1)
	}
	indexDir, err := treeIndexDir(dir, c.String(flagIndex))
	if err != nil {
		return cli.Exit("url --tree: "+err.Error(), 1)
	}
	es, err := hashTree(dir, indexDir, c.String(flagIndex), c.Bool(flagHidden))
	if err != nil {
		return cli.Exit("url --tree: "+err.Error(), 1)
	}
	if len(es) == 0 {
		return cli.Exit(fmt.Sprintf("url --tree: no file to list under %s", dir), 1)
	}
	m, err := collection.Encode(es)
	if err != nil {
		return cli.Exit("url --tree: "+err.Error(), 1)
	}
	sums, err := collstore.NewKeeper(collstore.Dir(indexDir), nil).Save(m)
	if err != nil {
		return cli.Exit("url --tree: "+err.Error(), 1)
	}
	u := rtpurl.URL{
		Hashes:  sums.URNs(kinds),
		Length:  sums.N,
		Servers: servers,
		Types:   []string{collection.MediaType},
		Name:    filepath.Base(dir),
	}
	fmt.Println(u.String())
	return nil
}

// treeIndexDir is the index folder whose collections/ an rtpd serving dir
// reads: that of index when given, else the nearest .rtpd folder holding
// an index from dir upward.
func treeIndexDir(dir, index string) (string, error) {
	if index != "" {
		return filepath.Dir(index), nil
	}
	for d := dir; ; d = filepath.Dir(d) {
		cand := filepath.Join(d, store.DefaultIndexDir)
		if _, err := os.Stat(filepath.Join(cand, "index.db")); err == nil {
			return cand, nil
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	return "", fmt.Errorf("no %s/index.db in %s or a folder above it: start rtpd serve first, or give --%s (the index file of the rtpd that serves it)", store.DefaultIndexDir, dir, flagIndex)
}

// hashTree hashes the files under dir that rtpd serves, by the rules of
// its index pass (store.WalkServed): rtpd state, symlinks leading out of
// the served folder or to a file not served, private keys, and dot-files,
// partial downloads and editor backups unless hidden are left out, with a
// warning for each. The served folder is the one holding indexDir when
// the index is in its default place, else dir itself (then a symlink out
// of dir is left out, even if it stays in the served folder). A name the
// path rules refuse is left out with a warning.
func hashTree(dir, indexDir, index string, hidden bool) ([]collection.Entry, error) {
	root, sub := dir, ""
	if index == "" {
		root = filepath.Dir(indexDir)
		rel, err := filepath.Rel(root, dir)
		if err != nil {
			return nil, err
		}
		if rel != "." {
			sub = filepath.ToSlash(rel)
		}
	}
	log := slog.New(cliutil.NewHumanHandler("rtpd", os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	opts := store.Options{Index: index, Hidden: hidden, Logger: log}
	// Files are opened in the served folder, whose symlinks os.Root
	// follows only while they stay in it: one swapped after the walk
	// cannot lead out.
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var es []collection.Entry
	err = store.WalkServed(context.Background(), root, sub, opts, func(inRoot string, fi fs.FileInfo) error {
		rel := inRoot
		if sub != "" {
			rel = strings.TrimPrefix(inRoot, sub+"/")
		}
		if err := collection.CheckPath(rel); err != nil {
			fmt.Fprintf(os.Stderr, "rtpd: left out of the tree: %v\n", err)
			return nil
		}
		f, err := r.Open(filepath.FromSlash(inRoot))
		if err != nil {
			return err
		}
		s, err := urn.HashReader(f, nil)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		es = append(es, collection.Entry{Path: rel, Size: s.N, Exec: fi.Mode().Perm()&0o111 != 0, BLAKE3: s.BLAKE3, SHA256: s.SHA256})
		if len(es) > collection.DefaultMaxFiles {
			return errors.New("more than 1,000,000 files, more than a reader accepts in one tree")
		}
		return nil
	})
	return es, err
}
