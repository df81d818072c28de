package swarm

import (
	"io"
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/rtp-project/rtp/urn"
)

// mapWindow is how much of the output one read-only mapping covers. While
// a window's pages are mapped they count in the process's resident memory,
// so a few windows at most (the one being handed out, and those whose
// pieces wait in the hashers' queues) are mapped at once.
const mapWindow = 8 << 20

// mappedPieces returns a source for urn.HashPieces that yields the output's
// bytes in order, each block as soon as it is done, straight from the page
// cache through read-only mappings of the file: prefixReader copies every
// byte once more into a buffer, which cost a 512 MB download 8% of
// rtpget's CPU. ok is false when the output is not a file that can be
// mapped; the caller then reads it back with prefixReader.
func (d *Download) mappedPieces() (next func() (urn.Piece, error), ok bool) {
	f, isFile := d.out.(*os.File)
	if !isFile {
		return nil, false
	}
	m := &mapped{d: d, f: f}
	if d.plan.size > 0 {
		if err := m.mapAt(0); err != nil {
			return nil, false
		}
	}
	return m.next, true
}

type mapped struct {
	d   *Download
	f   *os.File
	pos int64
	win *window // nil before the first mapping and after the last
}

// A window is one mapping; the reader holds one reference while it hands
// out pieces of it, and each piece one more until the hashers are done.
type window struct {
	b    []byte
	off  int64
	refs atomic.Int32
}

func (w *window) release() {
	if w.refs.Add(-1) == 0 {
		unix.Munmap(w.b)
	}
}

func (m *mapped) next() (urn.Piece, error) {
	pl := m.d.plan
	if m.pos >= pl.size {
		m.drop()
		return urn.Piece{}, io.EOF
	}
	i := int(m.pos / pl.bsize)
	if err := pl.waitDone(i); err != nil {
		m.drop()
		return urn.Piece{}, err
	}
	if m.win == nil || m.pos >= m.win.off+int64(len(m.win.b)) {
		m.drop()
		if err := m.mapAt(m.pos / mapWindow * mapWindow); err != nil {
			return urn.Piece{}, err
		}
	}
	w := m.win
	off, n := pl.span(i)
	end := min(off+n, w.off+int64(len(w.b)))
	b := w.b[m.pos-w.off : end-w.off]
	m.pos = end
	w.refs.Add(1)
	return urn.Piece{B: b, Release: w.release}, nil
}

// mapAt maps the window at off (a multiple of mapWindow, so of the page
// size) up to the end of the download. Bytes past the file's end may be
// mapped, but none is read before its block is done, so written.
func (m *mapped) mapAt(off int64) error {
	rc, err := m.f.SyscallConn()
	if err != nil {
		return err
	}
	n := int(min(mapWindow, m.d.plan.size-off))
	var b []byte
	var merr error
	if err := rc.Control(func(fd uintptr) {
		b, merr = unix.Mmap(int(fd), off, n, unix.PROT_READ, unix.MAP_SHARED)
	}); err != nil {
		return err
	}
	if merr != nil {
		return &os.PathError{Op: "mmap", Path: m.f.Name(), Err: merr}
	}
	unix.Madvise(b, unix.MADV_SEQUENTIAL)
	w := &window{b: b, off: off}
	w.refs.Store(1)
	m.win = w
	return nil
}

// drop lets go of the reader's hold on its window.
func (m *mapped) drop() {
	if m.win != nil {
		m.win.release()
		m.win = nil
	}
}
