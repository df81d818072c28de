package store

import (
	"os"
)

// fileBlob reads one indexed file and refuses to return bytes once the file
// differs from what was hashed.
type fileBlob struct {
	f       *os.File // shared with the other blobs of this file; see handles
	want    fileStat
	release func() error
}

func (b *fileBlob) Size() int64  { return b.want.Size }
func (b *fileBlob) Close() error { return b.release() }

// ReadAt reads, then checks the file is unchanged. A writer updates mtime and
// ctime before it copies new bytes into the file, so a read that saw a new
// byte is always followed by a check that sees the new mtime. A ctime
// alone (chmod, chown) does not stop READs; see fileStat.sameBytes.
func (b *fileBlob) ReadAt(p []byte, off int64) (int, error) {
	n, err := b.f.ReadAt(p, off)
	if cerr := b.Check(); cerr != nil {
		return 0, cerr
	}
	return n, err
}

// Check fails with ErrChanged if the file is no longer what was hashed.
func (b *fileBlob) Check() error {
	_, err := b.check()
	return err
}

// check is Check that also tells whether the file's ctime moved since it
// was hashed, for Open to ask for the pass that checks its bytes.
func (b *fileBlob) check() (ctimeMoved bool, err error) {
	fi, err := b.f.Stat()
	if err != nil {
		return false, err
	}
	st := statOf(fi)
	if !st.sameBytes(b.want) || unlinked(fi) {
		return false, ErrChanged
	}
	return st != b.want, nil
}
