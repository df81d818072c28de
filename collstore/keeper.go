package collstore

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rtp-project/rtp/internal/atomicfile"
	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/urn"
)

// DirName is the folder, inside an index folder, that holds manifests.
const DirName = "collections"

// DefaultKeep is how long a manifest nobody built or opened is kept.
const DefaultKeep = 30 * 24 * time.Hour

// touchEvery is how stale a manifest's time may get before an Open
// refreshes it.
const touchEvery = 24 * time.Hour

// Dir is the manifests' folder of the index folder indexDir.
func Dir(indexDir string) string { return filepath.Join(indexDir, DirName) }

// Keeper keeps manifests as files in one folder, each under two names,
// "blake3-<hex>" and "sha256-<hex>" (hard links where the file system has
// them). Several processes may share the folder: rtpd url --tree writes
// where a serving rtpd reads. Every file is checked against its name
// before it is served, and again whenever it changes on disk.
type Keeper struct {
	dir string
	log *slog.Logger
	// Keep is how long a manifest that nobody built or opened stays; zero
	// means DefaultKeep (30 days). Building or opening one refreshes it.
	Keep time.Duration

	mu        sync.Mutex
	verified  map[string]fileID // name -> the file as last checked
	lastPrune time.Time
}

type fileID struct {
	size, mtime int64
	sys         string // device and inode, where known
}

func idOf(fi fs.FileInfo) fileID {
	return fileID{size: fi.Size(), mtime: fi.ModTime().UnixNano(), sys: sysID(fi)}
}

// NewKeeper keeps manifests in dir, made when the first is saved. log
// receives warnings; nil means slog.Default().
func NewKeeper(dir string, log *slog.Logger) *Keeper {
	if log == nil {
		log = slog.Default()
	}
	return &Keeper{dir: dir, log: log, verified: map[string]fileID{}}
}

// Dir returns the folder the keeper keeps manifests in.
func (k *Keeper) Dir() string { return k.dir }

func name(h urn.Hash) string { return h.Kind.String() + "-" + h.Hex() }

// Save hashes manifest and stores it under both its names, atomically; it
// returns its sums. Saving a manifest already kept only refreshes its time.
func (k *Keeper) Save(manifest []byte) (urn.Sums, error) {
	sums, err := urn.HashReader(bytes.NewReader(manifest), nil)
	if err != nil {
		return sums, err
	}
	if err := os.MkdirAll(k.dir, 0o755); err != nil {
		return sums, fmt.Errorf("collections: %w", err)
	}
	now := time.Now()
	for i, h := range sums.Hashes() {
		p := filepath.Join(k.dir, name(h))
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Size() == int64(len(manifest)) {
			os.Chtimes(p, now, now)
			continue
		}
		if i > 0 && linkOver(filepath.Join(k.dir, name(sums.Hashes()[0])), p) == nil {
			continue
		}
		if err := atomicfile.Write(p, manifest, 0o644); err != nil {
			return sums, fmt.Errorf("collections: %w", err)
		}
	}
	k.prune(now)
	return sums, nil
}

// linkOver makes dst a hard link of src, atomically.
func linkOver(src, dst string) error {
	tmp := filepath.Join(filepath.Dir(dst), fmt.Sprintf(".tmp-link-%d-%d", os.Getpid(), time.Now().UnixNano()))
	if err := os.Link(src, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// Open opens the manifest named h. A hash it keeps no manifest for, or
// whose file does not hash to its name (it is then left alone, with a
// warning), wraps fs.ErrNotExist.
func (k *Keeper) Open(ctx context.Context, h urn.Hash) (store.Blob, error) {
	if !h.Valid() {
		return nil, fmt.Errorf("%s: %w", h, fs.ErrNotExist)
	}
	p := filepath.Join(k.dir, name(h))
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", h, fs.ErrNotExist)
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s: %w", h, fs.ErrNotExist)
	}
	id := idOf(fi)
	k.mu.Lock()
	ok := k.verified[name(h)] == id
	k.mu.Unlock()
	if !ok {
		sums, err := urn.HashReader(f, nil, h.Kind)
		if err != nil || sums.Of(h.Kind) != h.Sum || sums.N != fi.Size() {
			f.Close()
			if err == nil {
				k.log.Warn("a kept manifest does not hash to its name; not served", "file", p)
			}
			return nil, fmt.Errorf("%s: %w", h, fs.ErrNotExist)
		}
		k.mu.Lock()
		k.verified[name(h)] = id
		k.mu.Unlock()
	}
	if time.Since(fi.ModTime()) > touchEvery {
		now := time.Now()
		os.Chtimes(p, now, now) // kept while in use; the check above is redone once
	}
	return &fileBlob{f: f, size: fi.Size()}, nil
}

// prune removes manifests older than Keep, at most once an hour.
func (k *Keeper) prune(now time.Time) {
	keep := k.Keep
	if keep <= 0 {
		keep = DefaultKeep
	}
	k.mu.Lock()
	if now.Sub(k.lastPrune) < time.Hour {
		k.mu.Unlock()
		return
	}
	k.lastPrune = now
	k.mu.Unlock()
	k.Prune(now.Add(-keep))
}

// Prune removes the manifests last built or opened before t, and leftover
// temporary files; it returns how many files it removed.
func (k *Keeper) Prune(t time.Time) int {
	des, err := os.ReadDir(k.dir)
	if err != nil {
		return 0
	}
	n := 0
	for _, de := range des {
		nm := de.Name()
		if !strings.HasPrefix(nm, "blake3-") && !strings.HasPrefix(nm, "sha256-") && !strings.HasPrefix(nm, ".tmp-") {
			continue
		}
		fi, err := de.Info()
		if err != nil || !fi.ModTime().Before(t) {
			continue
		}
		if os.Remove(filepath.Join(k.dir, nm)) == nil {
			n++
		}
	}
	return n
}

// fileBlob is an open manifest.
type fileBlob struct {
	f    *os.File
	size int64
}

func (b *fileBlob) ReadAt(p []byte, off int64) (int, error) { return b.f.ReadAt(p, off) }
func (b *fileBlob) Size() int64                             { return b.size }
func (b *fileBlob) Close() error                            { return b.f.Close() }
