package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rtp-project/rtp/swarm"
	"github.com/rtp-project/rtp/urn"
)

// maxName bounds a name taken from a URL, in bytes: NAME.part.state must
// still fit the 255 bytes most file systems allow.
const maxName = 255 - len(".part.state")

// safeName turns a URL's dn into a file name that stays in the folder, shows
// as itself and hides nothing: the base name only (after the last / or \),
// invalid UTF-8, control characters (C0, DEL, C1), format characters (bidi
// overrides, zero widths) and line separators each replaced by _, leading
// and trailing dots and spaces trimmed (no hidden file, no . or ..), at most
// maxName bytes with the extension kept. On Windows its reserved characters
// and device names are escaped too. It returns "" when nothing is left; the
// caller falls back to the hash.
func safeName(dn string) string {
	if i := strings.LastIndexAny(dn, `/\`); i >= 0 {
		dn = dn[i+1:]
	}
	dn = strings.ToValidUTF8(dn, "_")
	dn = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) ||
			runtime.GOOS == "windows" && strings.ContainsRune(`<>:"|?*`, r) {
			return '_'
		}
		return r
	}, dn)
	dn = strings.Trim(dn, ". ")
	if len(dn) > maxName {
		ext := filepath.Ext(dn)
		if len(ext) > 32 {
			ext = ""
		}
		stem := dn[:maxName-len(ext)]
		for len(stem) > 0 && !utf8.ValidString(stem) {
			stem = stem[:len(stem)-1] // cut inside a rune
		}
		dn = strings.TrimRight(stem, ". ") + ext
	}
	if runtime.GOOS == "windows" && reservedOnWindows(dn) {
		dn = "_" + dn
	}
	return dn
}

func reservedOnWindows(name string) bool {
	stem, _, _ := strings.Cut(strings.ToUpper(name), ".")
	switch stem {
	case "CON", "PRN", "AUX", "NUL":
		return true
	}
	return len(stem) == 4 && (strings.HasPrefix(stem, "COM") || strings.HasPrefix(stem, "LPT")) && stem[3] >= '1' && stem[3] <= '9'
}

// show is a file name as printed on the terminal: as it is when every
// character prints as itself, else quoted with Go escapes, so no escape
// sequence or line break in a name reaches the terminal.
func show(name string) string {
	if !utf8.ValidString(name) || strings.ContainsAny(name, `"\`) {
		return strconv.Quote(name)
	}
	for _, r := range name {
		if !strconv.IsPrint(r) {
			return strconv.Quote(name)
		}
	}
	return name
}

// output describes where a download goes, found before anything is written.
type output struct {
	// path is the file that is created or replaced: the name itself, or
	// the regular file a symbolic link points to.
	path string
	// fi is what is at path now; nil when nothing is.
	fi fs.FileInfo
}

// stream reports whether the output is a device or a FIFO, written to in
// order rather than replaced.
func (o output) stream() bool { return o.fi != nil && !o.fi.Mode().IsRegular() }

// findOutput looks at what is at name. A symbolic link is followed to what
// it points to, which is then written (a regular file is replaced by
// rename, so the link stays a link); a link to nothing is refused, as
// rtpget never creates a file through a link. A device or FIFO is written
// to in order, but only when the user named it with -o (fromURL false): a
// name taken from a URL never does. Anything else (a socket) is refused.
func findOutput(name string, fromURL bool) (output, error) {
	fi, err := os.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return output{path: name}, nil
	}
	if err != nil {
		return output{}, err
	}
	path := name
	if fi.Mode()&fs.ModeSymlink != 0 {
		// A device or FIFO named by -o is written through the link, even
		// one of /proc's that EvalSymlinks cannot follow: /dev/stdout
		// when it is a pipe, or bash's -o >(cmd).
		if sfi, err := os.Stat(name); err == nil && !fromURL && sfi.Mode()&(fs.ModeDevice|fs.ModeCharDevice|fs.ModeNamedPipe) != 0 {
			return output{path: name, fi: sfi}, nil
		}
		if path, err = filepath.EvalSymlinks(name); err != nil {
			return output{}, fmt.Errorf("%s is a symbolic link to nothing that can be written (%v); rtpget creates no file through a link", show(name), err)
		}
		if fi, err = os.Stat(path); err != nil {
			return output{}, err
		}
	}
	m := fi.Mode()
	switch {
	case m.IsRegular():
	case m.IsDir():
		return output{}, fmt.Errorf("%s is a folder", show(name))
	case m&(fs.ModeDevice|fs.ModeCharDevice|fs.ModeNamedPipe) != 0:
		if fromURL {
			return output{}, fmt.Errorf("%s is a device or FIFO, and the name comes from the URL: rtpget writes into one only when -o names it", show(name))
		}
	default:
		return output{}, fmt.Errorf("%s is not a regular file, device or FIFO (%v)", show(name), m.Type())
	}
	return output{path: path, fi: fi}, nil
}

// differs tells how the regular file at path differs from the one the URL
// names, or "" when it is that file: its length and the hashes --verify
// checks match. The file is only read.
func (j *job) differs(ctx context.Context, path string, fi fs.FileInfo) (string, error) {
	if j.url.Length >= 0 && fi.Size() != j.url.Length {
		return fmt.Sprintf("%d bytes, not %d", fi.Size(), j.url.Length), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	checked := swarm.Checked(j.url, j.cfg.Verify)
	var kinds []urn.Kind
	for _, h := range checked {
		kinds = append(kinds, h.Kind)
	}
	j.log.Info("checking the existing file's hash", "file", path, "bytes", fi.Size())
	sums, err := urn.HashReader(ctxReader{ctx, f}, nil, kinds...)
	if err != nil {
		return "", err
	}
	for _, h := range checked {
		if sums.Of(h.Kind) != h.Sum {
			return "its " + h.Kind.String() + " differs", nil
		}
	}
	return "", nil
}

// ctxReader stops reading once ctx is done, so Ctrl-C ends a long check.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// openPart opens (creating it if need be) and locks path+".part". It fails
// at once, touching nothing, when another rtpget holds the lock. created
// tells whether this call made the file.
func openPart(part string) (f *os.File, created bool, err error) {
	f, err = os.OpenFile(part, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err == nil {
		created = true
	} else if errors.Is(err, fs.ErrExist) {
		// A partial download of a run before, unless it is not a
		// regular file: a link is not followed, a FIFO or device never
		// written nor removed.
		if lfi, lerr := os.Lstat(part); lerr == nil && !lfi.Mode().IsRegular() {
			return nil, false, fmt.Errorf("%s is a %s, but rtpget keeps its partial download there: move it away", show(part), kindOf(lfi))
		}
		f, err = os.OpenFile(part, os.O_RDWR|noFollow, 0)
	}
	if err != nil {
		return nil, false, err
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, false, fmt.Errorf("%s is not a regular file but rtpget keeps its partial download there: move it away", show(part))
	}
	if err := lockFile(f); err != nil {
		f.Close()
		if errors.Is(err, errLocked) {
			return nil, false, fmt.Errorf("another rtpget is writing %s; wait for it, or stop it", show(part))
		}
		return nil, false, fmt.Errorf("locking %s: %w", show(part), err)
	}
	// The lock holder may have renamed the file to its final name between
	// our open and our lock: then the lock is on that file, not on part.
	now, err := os.Lstat(part)
	fi, ferr := f.Stat()
	if err != nil || ferr != nil || !os.SameFile(now, fi) {
		f.Close()
		return nil, false, errMoved
	}
	return f, created, nil
}

// errMoved: NAME.part was renamed between opening and locking it; look again.
var errMoved = errors.New("the .part file moved while it was opened")

// openStream opens a device or FIFO for writing, without creating or
// truncating anything. Opening a FIFO waits for a reader; Ctrl-C ends the
// wait.
func openStream(ctx context.Context, path string) (*os.File, error) {
	type opened struct {
		f   *os.File
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		ch <- opened{f, err}
	}()
	select {
	case o := <-ch:
		return o.f, o.err
	case <-ctx.Done():
		go func() {
			if o := <-ch; o.f != nil {
				o.f.Close()
			}
		}()
		return nil, fmt.Errorf("interrupted while waiting for a reader of %s", show(path))
	}
}

// renameChecked renames from to to unless something is at to: the
// fallback of renameNew where the system cannot do both in one step.
func renameChecked(from, to string) error {
	if _, err := os.Lstat(to); err == nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: fs.ErrExist}
	}
	return os.Rename(from, to)
}
