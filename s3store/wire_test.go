package s3store_test

import (
	"bytes"
	"context"
	"errors"
	mrand "math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/rtp-project/rtp/client"
	"github.com/rtp-project/rtp/internal/s3test"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/s3store"
	"github.com/rtp-project/rtp/server"
	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/wire"
)

// The same over the wire: four RTP/1 sessions to a server on loopback keep
// READing random ranges of an object by its old hash while it is replaced
// under its key. Every READ answered with bytes has the old object's; the
// others are "not found" (changed), never the new bytes.
func TestReplacedWhileSessionsRead(t *testing.T) {
	gw := s3test.Start(t)
	gw.MakeBucket(t, "blobs")
	old, repl := randBytes(8<<20), randBytes(8<<20)
	gw.Put(t, "blobs", "obj", old)
	s := openStore(t, gw, "s3://blobs", "", s3store.Config{ChunkSize: 64 << 10, CacheBytes: 256 << 10}, store.Options{})
	scan(t, s)
	sha, _ := hashes(old)

	srv := server.New(server.Config{Store: s})
	l, err := srv.Listen(rtpurl.Dial{Proto: rtpurl.TCP, Host: "127.0.0.1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	go srv.ServeListener(ctx, l)
	defer func() {
		sctx, stop := context.WithTimeout(context.Background(), 5*time.Second)
		defer stop()
		srv.Shutdown(sctx)
	}()

	var wg sync.WaitGroup
	errc := make(chan error, 4)
	started := make(chan struct{}, 4)
	for r := range 4 {
		sess, err := client.Dial(ctx, l.Dial, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer sess.Close()
		tok, err := sess.Open(ctx, sha.String())
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var once sync.Once
			ready := func() { once.Do(func() { started <- struct{}{} }) }
			defer ready()
			rng := mrand.New(mrand.NewPCG(uint64(r), 9))
			buf := make([]byte, 1<<20)
			more := -1
			for n := 0; more != 0; n++ {
				if n == 3 {
					ready()
				}
				off := rng.IntN(len(old) - 1)
				got, err := sess.ReadAt(ctx, tok, buf[:min(len(buf), len(old)-off)], uint64(off))
				var we *wire.Error
				switch {
				case err == nil && !bytes.Equal(buf[:got], old[off:off+got]):
					errc <- errors.New("a READ returned bytes other than the hashed object's")
					return
				case err == nil:
				case errors.As(err, &we) && we.Kind == wire.KindNotFound:
					if more < 0 {
						more = 10
					}
				default:
					errc <- err
					return
				}
				if more > 0 {
					more--
				}
			}
		}()
	}
	for range 4 {
		<-started
	}
	gw.Put(t, "blobs", "obj", repl)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
}
