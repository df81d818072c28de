package rtpdtest

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/server"
	"github.com/rtp-project/rtp/store"
)

// IndexedDisk opens dir as rtpd serve does, with a real bbolt index in a
// folder of the test's own, and indexes it once; it is closed when the test
// ends.
func IndexedDisk(t testing.TB, dir string) *store.Disk {
	t.Helper()
	disk, err := store.OpenDisk(dir, store.Options{Index: filepath.Join(t.TempDir(), "index.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { disk.Close() })
	if _, err := disk.Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	return disk
}

// ServeInProcess serves dir from this process on loopback TCP, over a real
// bbolt index of its own, through wrap (nil for none: a test wraps the store
// to make a server stall or lie). kill closes every session at once and
// stops the server; it also runs when the test ends.
func ServeInProcess(t testing.TB, dir string, wrap func(store.Opener) store.Opener) (d rtpurl.Dial, kill func()) {
	t.Helper()
	disk := IndexedDisk(t, dir)
	var o store.Opener = disk
	if wrap != nil {
		o = wrap(disk)
	}
	srv := server.New(server.Config{Store: o})
	l, err := srv.Listen(rtpurl.Dial{Proto: rtpurl.TCP, Host: "127.0.0.1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.ServeListener(ctx, l); close(done) }()
	var once sync.Once
	kill = func() {
		once.Do(func() {
			now, expired := context.WithCancel(context.Background())
			expired() // no grace: close sessions now
			srv.Shutdown(now)
			cancel()
			<-done
		})
	}
	t.Cleanup(kill)
	return l.Dial, kill
}
