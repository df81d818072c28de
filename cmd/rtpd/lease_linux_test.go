package main

import (
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A lease is a write lease (fcntl F_SETLEASE) the test holds on a file:
// another process's open(2) of it waits until the lease is released (or
// for /proc/sys/fs/lease-break-time, 45 s by default), and the test can
// see that the open is waiting. It is a FIFO's blocking read for a regular
// file, which is all rtpd hashes: a way to hold rtpd at a known point of
// its index pass and to know it got there, without a sleep.
type lease struct {
	name string
	f    *os.File
}

// holdOpens takes a write lease on path. It is released at the end of the
// test, or by release. No other process may have the file open.
func holdOpens(t *testing.T, path string) *lease {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unix.FcntlInt(f.Fd(), unix.F_SETLEASE, unix.F_WRLCK); err != nil {
		f.Close()
		t.Fatalf("write lease on %s: %v (the test needs file leases: /proc/sys/fs/leases-enable, a local file system for TMPDIR)", path, err)
	}
	l := &lease{name: path, f: f}
	t.Cleanup(l.release)
	return l
}

// waiting reports whether another process has tried to open the file: the
// kernel is then breaking the lease, and F_GETLEASE gives the lease it
// would be broken to, no longer F_WRLCK.
func (l *lease) waiting() bool {
	typ, err := unix.FcntlInt(l.f.Fd(), unix.F_GETLEASE, 0)
	return err == nil && typ != unix.F_WRLCK
}

// release lets a waiting open go on.
func (l *lease) release() {
	if l.f != nil {
		unix.FcntlInt(l.f.Fd(), unix.F_SETLEASE, unix.F_UNLCK)
		l.f.Close()
		l.f = nil
	}
}

// waitOpened returns once every lease has an open waiting on it. It fails
// the test if exited is closed first, or after a minute. The kernel tells
// a lease holder of each break with SIGIO; the leases are also looked at
// every 20 ms, so a signal merged with another is not missed.
func waitOpened(t *testing.T, exited <-chan struct{}, ls ...*lease) {
	t.Helper()
	sigio := make(chan os.Signal, 1)
	signal.Notify(sigio, syscall.SIGIO)
	defer signal.Stop(sigio)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	limit := time.NewTimer(time.Minute)
	defer limit.Stop()
	for {
		var pending []string
		for _, l := range ls {
			if !l.waiting() {
				pending = append(pending, l.name)
			}
		}
		if len(pending) == 0 {
			return
		}
		select {
		case <-sigio:
		case <-tick.C:
		case <-exited:
			t.Fatalf("the process exited before it opened %v", pending)
		case <-limit.C:
			t.Fatalf("nothing opened %v within a minute", pending)
		}
	}
}
