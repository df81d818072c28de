//go:build linux

package server

import (
	"errors"
	"io"
	"net"

	"golang.org/x/sys/unix"

	"github.com/rtp-project/rtp/store"
)

// sendFile writes n bytes of b at off to c with sendfile(2), all but the
// last byte; then it reads the last byte, checks the file, and writes it. A
// writer updates the file's times before it copies new bytes in, so a change
// the kernel may have sent is seen by that check, and the response is never
// completed with bytes that might not match the hash: the caller closes the
// session instead. n must be at least 2.
func sendFile(tc *net.TCPConn, fb store.FileBlob, off, n int64) error {
	dst, err := tc.SyscallConn()
	if err != nil {
		return err
	}
	src, err := fb.File().SyscallConn()
	if err != nil {
		return err
	}
	left := n - 1
	var serr error
	cerr := src.Control(func(in uintptr) {
		werr := dst.Write(func(out uintptr) bool {
			for left > 0 {
				m, err := unix.Sendfile(int(out), int(in), &off, int(min(left, 1<<30)))
				if m > 0 {
					left -= int64(m)
				}
				switch {
				case errors.Is(err, unix.EAGAIN):
					return false // wait until writable, within the deadline
				case errors.Is(err, unix.EINTR):
					continue
				case err != nil:
					serr = err
					return true
				case m == 0:
					serr = io.ErrUnexpectedEOF // the file shrank
					return true
				}
			}
			return true
		})
		if serr == nil {
			serr = werr
		}
	})
	if cerr != nil {
		return cerr
	}
	if serr != nil {
		return serr
	}
	var last [1]byte
	if _, err := fb.ReadAt(last[:], off); err != nil { // ReadAt checks the file after reading
		return err
	}
	_, err = tc.Write(last[:])
	return err
}

const canSendFile = true
