package server

import (
	"net"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// tcpWatch samples an accepted TCP connection's TCP_INFO about once a round
// trip (50 ms at least, once a second while it sends nothing) and hands
// each sample of a connection that sent since the last one to its sample
// function, under mu, until the connection is closed or the function says
// to stop. lossWatch and paceWatch are its two uses.
type tcpWatch struct {
	*net.TCPConn
	rc syscall.RawConn
	// sample takes the socket and a fresh TCP_INFO, and reports whether
	// to stop watching.
	sample func(fd int, info *unix.TCPInfo) (stop bool)

	mu     sync.Mutex
	segs   uint32      // segments sent, at the last sample
	timer  *time.Timer // the next sample
	closed bool
}

// idleSample is the time between samples of a connection that sent
// nothing since the last.
const idleSample = time.Second

func (w *tcpWatch) start() {
	w.mu.Lock()
	w.timer = time.AfterFunc(50*time.Millisecond, w.tick)
	w.mu.Unlock()
}

func (w *tcpWatch) Close() error {
	w.mu.Lock()
	w.closed = true
	w.timer.Stop()
	w.mu.Unlock()
	return w.TCPConn.Close()
}

func (w *tcpWatch) tick() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	next := idleSample
	stop := false
	if cerr := w.rc.Control(func(fd uintptr) {
		info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
		if err != nil {
			stop = true // closed under us
			return
		}
		if info.Data_segs_out != w.segs {
			w.segs = info.Data_segs_out
			stop = w.sample(int(fd), info)
			next = max(50*time.Millisecond, time.Duration(info.Min_rtt)*time.Microsecond)
		}
	}); cerr != nil || stop {
		return
	}
	w.timer.Reset(next)
}
