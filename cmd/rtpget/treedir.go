package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"

	"lukechampine.com/blake3"
)

// stateDir is rtpget's folder inside a tree's target: the lock, the
// record of files placed (treeState) and the partial downloads, named by
// hash. It is never deleted, never listed in a manifest (a manifest path
// ".rtpget/…" is refused per file) and never touched by --delete.
const stateDir = ".rtpget"

// partsDir holds downloads in progress and verified ones waiting to be
// placed, named by their blake3 hex: one download per content, whatever
// the paths that want it.
const partsDir = stateDir + "/parts"

// treeDir is the target folder of a tree. Every file operation inside it
// goes through root (os.Root), so no path, and no symbolic link planted in
// the folder, makes rtpget write outside it. Beyond that, rtpget follows no
// link inside the folder either: a path component that exists as a link or
// as something other than a folder, or a final name that is not a regular
// file, is an error for that path alone.
type treeDir struct {
	name  string // as the user gave it, for messages
	root  *os.Root
	parts *os.Root // partsDir
	lock  *os.File

	// replace holds the paths the inventory chose to fetch over (older
	// versions rtpget placed; any, with --force: force); any other file
	// found at a path when it is placed is kept (appeared). Written
	// before the first placing, only read after.
	replace map[string]bool
	force   bool

	mu   sync.Mutex
	dirs map[string]error // folders made or checked, and the outcome
	fds  dirHandles       // where the system has *at calls: a handle per folder
}

// openTreeDir creates the target if need be, checks rtpget's folders in it
// and locks it against a second rtpget.
func openTreeDir(name string) (*treeDir, error) {
	if err := os.MkdirAll(name, 0o755); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(name)
	if err != nil {
		return nil, err
	}
	t := &treeDir{name: name, root: root, dirs: map[string]error{"": nil}, replace: map[string]bool{}}
	for _, d := range []string{stateDir, partsDir} {
		if err := t.mkdirAt(d); err != nil {
			root.Close()
			return nil, err
		}
	}
	if t.lock, err = root.OpenFile(stateDir+"/lock", os.O_RDWR|os.O_CREATE, 0o644); err != nil {
		root.Close()
		return nil, err
	}
	if err := lockFile(t.lock); err != nil {
		t.lock.Close()
		root.Close()
		if errors.Is(err, errLocked) {
			return nil, fmt.Errorf("another rtpget is writing into %s; wait for it, or stop it", show(name))
		}
		return nil, err
	}
	if t.parts, err = root.OpenRoot(partsDir); err != nil {
		t.Close()
		return nil, err
	}
	if err := t.openHandles(); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

func (t *treeDir) Close() error {
	if t.parts != nil {
		t.parts.Close()
	}
	t.closeHandles()
	t.lock.Close()
	return t.root.Close()
}

// mkdirAt makes one folder whose parent is known to be a real folder, or
// checks that what is there is a folder and not a link.
func (t *treeDir) mkdirAt(p string) error {
	err := t.root.Mkdir(p, 0o755)
	if err == nil || !errors.Is(err, fs.ErrExist) {
		return err
	}
	fi, err := t.root.Lstat(p)
	if err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("%s is a symbolic link; rtpget follows no link inside the target", show(p))
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is a %s, not a folder", show(p), kindOf(fi))
	}
	return nil
}

// ensureDir makes the folders of p's parent, one component at a time, each
// checked to be a folder and not a link. Outcomes are remembered, so a tree
// of thousands of files costs one look per folder.
func (t *treeDir) ensureDir(p string) error {
	dir := path.Dir(p)
	if dir == "." {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ensureLocked(dir)
}

func (t *treeDir) ensureLocked(dir string) error {
	if err, ok := t.dirs[dir]; ok {
		return err
	}
	parent := path.Dir(dir)
	if parent == "." {
		parent = ""
	}
	err := t.ensureLocked(parent)
	if err == nil {
		err = t.mkdirAt(dir)
	}
	t.dirs[dir] = err
	return err
}

// forget drops what ensureDir remembers (after --delete removed folders).
func (t *treeDir) forget() {
	t.mu.Lock()
	t.dirs = map[string]error{"": nil}
	t.dropHandles()
	t.mu.Unlock()
}

// lookFinalRoot returns what is at the final name p: nil when nothing is, an
// error when it is something rtpget must not replace (a link, a folder, a
// device) or a folder on the way is not a real one. Through the os.Root:
// every call resolves p again, component by component.
func (t *treeDir) lookFinalRoot(p string) (fs.FileInfo, error) {
	if err := t.ensureDir(p); err != nil {
		return nil, err
	}
	fi, err := t.root.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if err := notReplaceable(p, fi); err != nil {
		return nil, err
	}
	return fi, nil
}

// appeared is the error for a regular file found at p when placing it,
// unless the inventory chose to replace what is at p (an older version
// rtpget placed) or --force was given: a file that appeared during the
// download is the user's, and is kept.
func (t *treeDir) appeared(p string) error {
	if t.force || t.replace[p] {
		return nil
	}
	return fmt.Errorf("%s appeared during the download and is not a file rtpget placed: not replaced; --force replaces it", show(p))
}

// notReplaceable is the error for what rtpget must not replace at p.
func notReplaceable(p string, fi fs.FileInfo) error {
	if fi.Mode().IsRegular() {
		return nil
	}
	return fmt.Errorf("%s is a %s; rtpget replaces only regular files", show(p), kindOf(fi))
}

// placeRoot renames the verified part (its mode already set) into p,
// after checking again what is there, through the os.Root. The part must
// already be on disk (synced).
func (t *treeDir) placeRoot(part, p string) (fs.FileInfo, error) {
	fi, err := t.lookFinalRoot(p)
	if err != nil {
		return nil, err
	}
	if fi != nil {
		if err := t.appeared(p); err != nil {
			return nil, err
		}
	}
	src := partsDir + "/" + part
	if err := t.root.Rename(src, p); err != nil {
		return nil, err
	}
	return t.root.Lstat(p)
}

// copyPart copies the part named from into a new part named to (for a
// second path with the same content): copy_file_range, so a file system
// that can shares the blocks (a reflink) instead of writing them again.
func (t *treeDir) copyPart(from, to string, exec bool) error {
	src, err := t.parts.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	return t.writePart(to, exec, func(dst *os.File) error {
		_, err := io.Copy(dst, src)
		return err
	})
}

// copyIn copies the regular file at p (a file of the tree found to hold
// the content, by its hash or its recorded state) into a new part, and
// checks the bytes it copied against the content's blake3: the file may
// have changed since it was looked at.
func (t *treeDir) copyIn(p, to string, exec bool, want [32]byte) error {
	src, err := t.root.OpenFile(p, os.O_RDONLY|noFollow, 0)
	if err != nil {
		return err
	}
	defer src.Close()
	return t.writePart(to, exec, func(dst *os.File) error {
		h := blake3.New(32, nil)
		if _, err := io.Copy(io.MultiWriter(dst, h), src); err != nil {
			return err
		}
		if [32]byte(h.Sum(nil)) != want {
			return fmt.Errorf("%s changed while it was copied", p)
		}
		return nil
	})
}

// partMode is the mode of a placed file: x gives 0755, f 0644.
func partMode(exec bool) fs.FileMode {
	if exec {
		return 0o755
	}
	return 0o644
}

// writePart creates the part name (replacing an old one) with the mode of
// a file placed from it, and fills it.
func (t *treeDir) writePart(name string, exec bool, fill func(*os.File) error) error {
	f, err := t.createPart(name, exec)
	if err != nil {
		return err
	}
	err = fill(f)
	if err == nil && modeNeedsChmod(exec) {
		err = f.Chmod(partMode(exec))
	}
	if err == nil && syncEach {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.parts.Remove(name)
	}
	return err
}

func kindOf(fi fs.FileInfo) string {
	m := fi.Mode()
	switch {
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	case m.IsDir():
		return "folder"
	case m.IsRegular():
		return "file"
	case m&fs.ModeNamedPipe != 0:
		return "FIFO"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return strings.TrimSpace(fmt.Sprintf("%v file", m.Type()))
}
