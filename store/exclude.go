package store

import (
	"bytes"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.etcd.io/bbolt"
)

// What is never served, whatever the options say (see docs/hardening.md):
//
//   - the folder of this Disk's index, and any folder named .rtpd;
//   - any folder holding rtpd state: the marker file every rtpd writes into
//     its index folder (MarkerName), a bbolt file named index.db, or a
//     cert.pem that rtpd made (self-signed, organization "rtpd self-signed")
//     beside a key.pem;
//   - the files Options.Private names, by identity, so neither a hard link
//     nor a symlink to one is served;
//   - a file of at most maxKeyFile bytes holding a PEM private key ("-----BEGIN
//     ... PRIVATE KEY-----", which also matches OpenSSH and PGP keys).
//
// And what is not served unless Options.Hidden: dot-files and dot-folders,
// and the names of files still being written or left by editors (skipName).

// MarkerName is the file every rtpd writes into its index folder, so that
// no rtpd serves that folder, wherever it lies and whichever rtpd scans it.
const MarkerName = ".rtpd-index"

const markerText = "This folder holds an rtpd index, and maybe rtpd's TLS certificate and key.\n" +
	"No rtpd serves a folder holding this file (" + MarkerName + ").\n"

// maxKeyFile is the largest file checked for a PEM private key: key files
// are a few KiB, and a chain with its key a few tens.
const maxKeyFile = 64 << 10

// rulesVersion counts changes to the rules above that an index written
// before them may break: on the first pass after such a change, files the
// index holds are checked again (see Scan).
const rulesVersion = 1

// bucketMeta holds "rules": the rulesVersion the index was last scanned
// under.
var bucketMeta = []byte("meta")

// writeMarker marks dir, an index folder.
func writeMarker(dir string) error {
	p := filepath.Join(dir, MarkerName)
	if _, err := os.Lstat(p); err == nil {
		return nil
	}
	return os.WriteFile(p, []byte(markerText), 0o644)
}

// skipName reports whether a file or folder called name is left out unless
// Options.Hidden: dot-files and dot-folders (.git, .ssh, .env, vim's
// .name.swp), rtpget's and browsers' partial downloads (NAME.part,
// NAME.part.state, NAME.crdownload) and editors' backups (name~, #name#).
func skipName(name string) bool {
	return strings.HasPrefix(name, ".") ||
		strings.HasSuffix(name, ".part") || strings.HasSuffix(name, ".part.state") ||
		strings.HasSuffix(name, ".crdownload") || strings.HasSuffix(name, "~") ||
		(len(name) > 1 && strings.HasPrefix(name, "#") && strings.HasSuffix(name, "#"))
}

// Hidden reports whether a file or folder called name is one a folder
// serves only with Options.Hidden (see skipName), for tools that list a
// folder as rtpd would.
func Hidden(name string) bool { return skipName(name) }

// skipped reports whether a file or folder called name is left out under
// the options.
func (d *Disk) skipped(name string) bool {
	return name == DefaultIndexDir || (!d.opts.Hidden && skipName(name))
}

// stateDir says why the folder abs holds rtpd state, or "" when it does not.
func (d *Disk) stateDir(abs string) string {
	if abs == d.indexDir {
		return "this rtpd's index folder"
	}
	if filepath.Base(abs) == DefaultIndexDir {
		return "an rtpd index folder (" + DefaultIndexDir + ")"
	}
	if _, err := os.Lstat(filepath.Join(abs, MarkerName)); err == nil {
		return "an rtpd index folder (holds " + MarkerName + ")"
	}
	if isBolt(filepath.Join(abs, "index.db")) {
		return "an rtpd index folder (holds a bbolt index.db)"
	}
	if isRTPDCert(filepath.Join(abs, "cert.pem")) {
		if _, err := os.Lstat(filepath.Join(abs, "key.pem")); err == nil {
			return "an rtpd index folder (holds rtpd's certificate and key)"
		}
	}
	return ""
}

// isBolt reports whether p is a regular file that begins as a bbolt
// database does: a meta page whose magic follows the 16-byte page header.
func isBolt(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return false
	}
	var b [20]byte
	if _, err := io.ReadFull(f, b[:]); err != nil {
		return false
	}
	const magic = 0xED0CDAED
	le := uint32(b[16]) | uint32(b[17])<<8 | uint32(b[18])<<16 | uint32(b[19])<<24
	be := uint32(b[19]) | uint32(b[18])<<8 | uint32(b[17])<<16 | uint32(b[16])<<24
	return le == magic || be == magic
}

// isRTPDCert reports whether p is a certificate that rtpd made itself
// (server.LoadOrCreateCert).
func isRTPDCert(p string) bool {
	fi, err := os.Stat(p)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > maxKeyFile {
		return false
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return false
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return false
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	return err == nil && slices.Contains(c.Subject.Organization, "rtpd self-signed")
}

// holdsPrivateKey reports whether b holds the begin line of a PEM (or
// OpenSSH, or PGP armored) private key.
func holdsPrivateKey(b []byte) bool {
	const begin = "-----BEGIN "
	for {
		i := bytes.Index(b, []byte(begin))
		if i < 0 {
			return false
		}
		b = b[i+len(begin):]
		label, _, ok := bytes.Cut(b, []byte("-----"))
		if ok && len(label) <= 64 && !bytes.ContainsAny(label, "\r\n") && bytes.Contains(label, []byte("PRIVATE KEY")) {
			return true
		}
	}
}

// fileHoldsPrivateKey reports whether f, of size bytes, is small enough to
// be a key file and holds a private key.
func fileHoldsPrivateKey(f io.ReaderAt, size int64) bool {
	if size > maxKeyFile || size < int64(len("-----BEGIN PRIVATE KEY-----")) {
		return false
	}
	b := make([]byte, size)
	n, err := f.ReadAt(b, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return false
	}
	return holdsPrivateKey(b[:n])
}

// isPrivate reports whether fi is one of the files Options.Private names.
func (d *Disk) isPrivate(fi fs.FileInfo) bool {
	st := statOf(fi)
	for _, p := range d.private {
		// By device and inode: the walk's FileInfo need not be the os
		// package's, which os.SameFile wants.
		if ps := statOf(p); ps.Dev == st.Dev && ps.Inode == st.Inode && (ps.Inode != 0 || os.SameFile(fi, p)) {
			return true
		}
	}
	return false
}

// excluded reports why the file at rel (slash-separated, in the served
// folder) is never served, or "" when the rules above allow it. It checks
// the path as Lookup and symlink targets need it, folder by folder; the
// scan checks the same rules as it walks.
func (d *Disk) excluded(rel string) string {
	if d.stateDir(d.dir) != "" {
		return "in an rtpd index folder"
	}
	parts := strings.Split(rel, "/")
	abs := d.dir
	for i, name := range parts {
		if name == "" || name == "." || name == ".." {
			return "not a clean path"
		}
		if d.skipped(name) {
			return "hidden or temporary"
		}
		abs = filepath.Join(abs, name)
		if i < len(parts)-1 {
			if why := d.stateDir(abs); why != "" {
				return "in " + why
			}
		}
	}
	return ""
}

// linkTarget says why the symlink at abs points at a file never served, or
// "" when its target is one the rules allow.
func (d *Disk) linkTarget(abs string) string {
	target, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "that cannot be resolved"
	}
	rel, err := filepath.Rel(d.dir, target)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "out of the folder"
	}
	if why := d.excluded(filepath.ToSlash(rel)); why != "" {
		return why
	}
	return ""
}

// keyFile reports, with a warning, whether the file at rel holds a private
// key; for files an index made under older rules holds.
func (d *Disk) keyFile(rel string, size int64) bool {
	if size > maxKeyFile {
		return false
	}
	f, err := d.root.Open(filepath.FromSlash(rel))
	if err != nil {
		return false
	}
	defer f.Close()
	if !fileHoldsPrivateKey(f, size) {
		return false
	}
	d.warn(rel, "not served: holds a private key", nil)
	return true
}

// oldRules reports whether the index was last scanned under older rules.
func (d *Disk) oldRules() (bool, error) {
	old := false
	err := d.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketMeta).Get([]byte("rules"))
		old = len(v) != 8 || binary.LittleEndian.Uint64(v) < rulesVersion
		return nil
	})
	return old, err
}

// setRules records that the index was scanned under the rules of now.
func (d *Disk) setRules() error {
	return d.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketMeta).Put([]byte("rules"), binary.LittleEndian.AppendUint64(nil, rulesVersion))
	})
}
