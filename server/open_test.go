package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/rtp-project/rtp/client"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/server"
	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/urn"
	"github.com/rtp-project/rtp/wire"
)

func shaHash(b []byte) urn.Hash { return urn.New(urn.SHA256, sha256.Sum256(b)) }

// waitFor receives one value from ch, failing the test if ctx ends first.
func waitFor[T any](t *testing.T, ctx context.Context, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-ctx.Done():
		t.Fatalf("%s: %v", what, ctx.Err())
		panic("unreachable")
	}
}

// An OPEN held at the store holds up nothing behind it: an OPEN and a READ
// of another hash pipelined behind it on the same session are answered
// while it waits, and a READ pipelined behind it gets its bytes once it is
// answered.
func TestSlowOpenHoldsUpNothingBehindIt(t *testing.T) {
	slow, fast := random(300<<10), random(100<<10)
	var hs *hookedStore
	f := newWrappedFixture(t, server.Config{}, map[string][]byte{"slow": slow, "fast": fast}, func(d *store.Disk) store.Opener {
		hs = newHookedStore(d)
		hs.block[shaHash(slow)] = true
		return hs
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var pending []*client.Call
	var bufs []*bytes.Buffer
	for _, proto := range []string{"tcp", "tls", "quic"} {
		s, err := client.Dial(ctx, f.dials[proto], f.opts)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		openSlow := s.StartOpen(sha(slow))
		var slowBuf, fastBuf bytes.Buffer
		readSlow := s.StartRead(openSlow.Token, 0, uint64(len(slow)), &slowBuf)
		openFast := s.StartOpen(sha(fast))
		readFast := s.StartRead(openFast.Token, 0, uint64(len(fast)), &fastBuf)
		waitFor(t, ctx, hs.entered, proto+": slow OPEN reaching the store")
		if err := openFast.Wait(ctx); err != nil {
			t.Fatalf("%s: OPEN behind a slow one: %v", proto, err)
		}
		if err := readFast.Wait(ctx); err != nil || !bytes.Equal(fastBuf.Bytes(), fast) {
			t.Fatalf("%s: READ behind a slow OPEN: %v, %d bytes, equal=%v", proto, err, fastBuf.Len(), bytes.Equal(fastBuf.Bytes(), fast))
		}
		select {
		case <-openSlow.Done:
			t.Fatalf("%s: the slow OPEN was answered (%v) while the store held it", proto, openSlow.Err)
		case <-readSlow.Done:
			t.Fatalf("%s: the READ behind the slow OPEN was answered (%v) while the store held the OPEN", proto, readSlow.Err)
		default:
		}
		pending = append(pending, openSlow, readSlow)
		bufs = append(bufs, &slowBuf)
	}
	if n := hs.cur.Load(); n != 3 {
		t.Fatalf("%d store calls under way, want the 3 slow OPENs", n)
	}
	close(hs.release)
	for i, c := range pending {
		if err := c.Wait(ctx); err != nil {
			t.Fatalf("slow call %d: %v", i, err)
		}
	}
	for i, b := range bufs {
		if !bytes.Equal(b.Bytes(), slow) {
			t.Errorf("session %d: READ behind the slow OPEN got %d bytes, equal=%v", i, b.Len(), bytes.Equal(b.Bytes(), slow))
		}
	}
}

// OPENs are answered as if handled one after the other, whatever the
// store's delay: an OPEN that reuses the token of one under way waits for
// its outcome, so that the pipelined OPEN T (fails), READ T, OPEN T (a
// file), READ T get not found, not found, OK and the file's bytes.
func TestOpensAnsweredAsInOrder(t *testing.T) {
	data := random(50 << 10)
	gone := urn.New(urn.SHA256, [32]byte{9})
	var hs *hookedStore
	f := newWrappedFixture(t, server.Config{}, map[string][]byte{"a": data}, func(d *store.Disk) store.Opener {
		hs = newHookedStore(d)
		hs.block[gone] = true
		return hs
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := f.rawTCP(t)
	tok := wire.TokenFromUint64(2)
	if _, err := c.Write(appendRequests(nil,
		wire.NewOpen(tok, gone.String()),
		wire.NewRead(wire.TokenFromUint64(4), tok, 0, 100),
		wire.NewOpen(tok, sha(data)),
		wire.NewRead(wire.TokenFromUint64(6), tok, 0, 100),
	)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, hs.entered, "the failing OPEN reaching the store")
	close(hs.release)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	got := map[wire.Token][]string{}
	for range 4 {
		h, p, err := wire.ReadResponse(br, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if h.IsError {
			got[h.Token] = append(got[h.Token], "error "+string(p))
		} else {
			got[h.Token] = append(got[h.Token], fmt.Sprintf("ok %d bytes", len(p)))
		}
	}
	// The two OPENs share a token: its answers come in the OPENs' order.
	want := map[wire.Token][]string{
		tok:                     {"error not found", "ok 0 bytes"},
		wire.TokenFromUint64(4): {"error not found"},
		wire.TokenFromUint64(6): {"ok 100 bytes"},
	}
	for k, w := range want {
		if fmt.Sprint(got[k]) != fmt.Sprint(w) {
			t.Errorf("token %v: %q, want %q (all: %v)", k, got[k], w, got)
		}
	}
}

// A client that hangs up cancels the store calls its session has under way:
// the context the store got is done, over every transport.
func TestHangUpCancelsStoreCall(t *testing.T) {
	data := random(10 << 10)
	var hs *hookedStore
	f := newWrappedFixture(t, server.Config{}, map[string][]byte{"a": data}, func(d *store.Disk) store.Opener {
		hs = newHookedStore(d)
		hs.block[shaHash(data)] = true
		return hs
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, proto := range []string{"tcp", "tls", "quic"} {
		s, err := client.Dial(ctx, f.dials[proto], f.opts)
		if err != nil {
			t.Fatal(err)
		}
		open := s.StartOpen(sha(data))
		s.StartRead(open.Token, 0, 100, new(bytes.Buffer))
		waitFor(t, ctx, hs.entered, proto+": OPEN reaching the store")
		s.Close()
		if err := waitFor(t, ctx, hs.ended, proto+": the store call's context ending after the client hung up"); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: store call ended with %v, want context.Canceled", proto, err)
		}
	}
}

// A client that writes its requests and half-closes is owed every answer
// (rule 1): the end of its requests is not a hang-up, so an OPEN the store
// still holds is not cancelled, and it and the READ behind it are answered
// once the store lets go.
func TestHalfCloseStillAnswered(t *testing.T) {
	data := random(10 << 10)
	f := newFixture(t, server.Config{}, map[string][]byte{"a": data})
	hs := newHookedStore(f.disk)
	hs.block[shaHash(data)] = true
	srv := server.New(server.Config{Store: hs})
	ended := make(chan error, 1)
	server.SetInputEndedHook(srv, func(err error) { ended <- err })
	l, err := srv.Listen(rtpurl.Dial{Proto: rtpurl.TCP, Host: "127.0.0.1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	go srv.ServeListener(ctx, l)
	defer srv.Shutdown(ctx)

	c, err := net.Dial("tcp", l.Dial.Address())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	open := wire.NewOpen(wire.TokenFromUint64(2), sha(data))
	read := wire.NewRead(wire.TokenFromUint64(4), open.Token, 0, 100)
	if _, err := c.Write(append(open.Append(nil), read.Append(nil)...)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, hs.entered, "OPEN reaching the store")
	c.(*net.TCPConn).CloseWrite()
	if err := waitFor(t, ctx, ended, "the server reading the end of the requests"); !errors.Is(err, io.EOF) {
		t.Fatalf("the session's reader stopped with %v, not the end of input", err)
	}
	select {
	case err := <-hs.ended:
		t.Fatalf("the store call was cancelled (%v) though the client only half-closed", err)
	default:
	}
	close(hs.release)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	got := map[wire.Token][]byte{}
	for range 2 {
		h, p, err := wire.ReadResponse(br, 1<<20)
		if err != nil {
			t.Fatalf("after %d answers: %v", len(got), err)
		}
		if h.IsError {
			t.Fatalf("%+v: error %q", h, p)
		}
		got[h.Token] = p
	}
	if p, ok := got[open.Token]; !ok || len(p) != 0 {
		t.Errorf("OPEN answered %q, %v", p, ok)
	}
	if !bytes.Equal(got[read.Token], data[:100]) {
		t.Errorf("READ answered %d bytes, not the first 100 of the file", len(got[read.Token]))
	}
}

// A client that sends 10,000 OPENs of distinct hashes to a store that holds
// them all gets at most MaxOpening (16) store calls, and goroutines, at
// once: the rest wait in a queue bounded by MaxOpenTokens, and past that
// the session reads no more. Once the store answers, every OPEN gets its
// one answer.
func TestOpenConcurrencyBounded(t *testing.T) {
	const opens, maxOpening = 10000, 16
	f := newFixture(t, server.Config{}, map[string][]byte{"a": []byte("a")})
	hs := newHookedStore(f.disk)
	hs.blockAll = true
	srv := server.New(server.Config{Store: hs})
	waiting := make(chan struct{}, 1)
	server.SetOpenWaitHook(srv, func() {
		select {
		case waiting <- struct{}{}:
		default:
		}
	})
	l, err := srv.Listen(rtpurl.Dial{Proto: rtpurl.TCP, Host: "127.0.0.1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	go srv.ServeListener(ctx, l)
	defer srv.Shutdown(ctx)

	base := runtime.NumGoroutine()
	c, err := net.Dial("tcp", l.Dial.Address())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	werr := make(chan error, 1)
	go func() {
		bw := bufio.NewWriter(c)
		var b []byte
		for i := range opens {
			var sum [32]byte
			sum[0], sum[1], sum[2] = byte(i), byte(i>>8), 0xee
			q := wire.NewOpen(wire.TokenFromUint64(uint64(2*i+2)), urn.New(urn.SHA256, sum).String())
			b = q.Append(b[:0])
			if _, err := bw.Write(b); err != nil {
				werr <- err
				return
			}
		}
		werr <- bw.Flush()
	}()
	for range maxOpening {
		waitFor(t, ctx, hs.entered, "OPENs reaching the store")
	}
	waitFor(t, ctx, waiting, "the session to stop reading at MaxOpenTokens OPENs under way")
	held, grown := hs.cur.Load(), runtime.NumGoroutine()-base
	t.Logf("%d OPENs sent to a store that holds them: %d store calls under way, %d goroutines more than before the session", opens, held, grown)
	if held != maxOpening {
		t.Errorf("%d store calls under way, want MaxOpening=%d", held, maxOpening)
	}
	// The session's reader, the test's writer, MaxOpening workers and a
	// few of the runtime's: far fewer than the 1024 OPENs under way.
	if grown > maxOpening+16 {
		t.Errorf("%d more goroutines with 1024 OPENs under way, want at most %d", grown, maxOpening+16)
	}
	close(hs.release)
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	seen := make(map[wire.Token]bool, opens)
	for i := range opens {
		h, p, err := wire.ReadResponse(br, 1<<20)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		if !h.IsError || !errors.Is(wire.ParseError(string(p)), wire.ErrNotFound) {
			t.Fatalf("response %d (token %v): error=%v %q, want not found", i, h.Token, h.IsError, p)
		}
		if seen[h.Token] {
			t.Fatalf("token %v answered twice", h.Token)
		}
		seen[h.Token] = true
	}
	if err := waitFor(t, ctx, werr, "the writer"); err != nil {
		t.Fatal(err)
	}
	if most := hs.most.Load(); most != maxOpening {
		t.Errorf("at most %d store calls at once, want MaxOpening=%d", most, maxOpening)
	}
}

// A graceful Shutdown lets the store calls under way finish, and answers
// them: it stops reading requests, not serving those it has read.
func TestShutdownFinishesStoreCalls(t *testing.T) {
	data := random(70 << 10)
	f := newFixture(t, server.Config{}, map[string][]byte{"a": data})
	hs := newHookedStore(f.disk)
	hs.block[shaHash(data)] = true
	srv := server.New(server.Config{Store: hs})
	l, err := srv.Listen(rtpurl.Dial{Proto: rtpurl.TCP, Host: "127.0.0.1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	go srv.ServeListener(ctx, l)
	s, err := client.Dial(ctx, l.Dial, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	open := s.StartOpen(sha(data))
	var buf bytes.Buffer
	read := s.StartRead(open.Token, 0, uint64(len(data)), &buf)
	waitFor(t, ctx, hs.entered, "OPEN reaching the store")
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(ctx) }()
	// Shutdown closes the listeners and stops the sessions at once: when
	// dialing fails, this session reads no more requests.
	for {
		c, err := net.Dial("tcp", l.Dial.Address())
		if err != nil {
			break
		}
		c.Close()
		time.Sleep(5 * time.Millisecond)
	}
	close(hs.release)
	if err := open.Wait(ctx); err != nil {
		t.Fatalf("OPEN under way at Shutdown: %v", err)
	}
	if err := read.Wait(ctx); err != nil || !bytes.Equal(buf.Bytes(), data) {
		t.Fatalf("READ behind it: %v, %d bytes", err, buf.Len())
	}
	if err := waitFor(t, ctx, shut, "Shutdown"); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if n := len(hs.ended); n != 0 {
		t.Errorf("%d store calls were cancelled by a graceful Shutdown", n)
	}
}

// Small answers queued while READs are written reach the client whole and
// in their place, whether they fit in the room before a READ's first chunk
// (and go out in its write) or not: pipelined runs of failing OPENs, 0 to
// 300 of them (up to about 8 KiB of answers), each followed by a READ of
// one or two chunks.
func TestSmallAnswersBesideReads(t *testing.T) {
	data := random(400 << 10)
	f := newFixture(t, server.Config{}, map[string][]byte{"a": data})
	c := f.rawTCP(t)
	file := wire.TokenFromUint64(1)
	b := appendRequests(nil, wire.NewOpen(file, sha(data)))
	type read struct{ off, n int }
	reads := map[wire.Token]read{}
	next := uint64(2)
	fails := 0
	for i := range 24 {
		for range (i * 37) % 301 {
			b = appendRequests(b, wire.NewOpen(wire.TokenFromUint64(next), urn.New(urn.SHA256, [32]byte{byte(next), byte(next >> 8)}).String()))
			next++
			fails++
		}
		r := read{off: i * 4099 % (100 << 10), n: 1 + i*13331%(300<<10)}
		tok := wire.TokenFromUint64(next)
		next++
		reads[tok] = r
		b = appendRequests(b, wire.NewRead(tok, file, uint64(r.off), uint64(r.n)))
	}
	go c.Write(b)
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	notFound, opened := 0, 0
	for range 1 + fails + len(reads) {
		h, p, err := wire.ReadResponse(br, 1<<20)
		if err != nil {
			t.Fatalf("after %d not found, %d reads left: %v", notFound, len(reads), err)
		}
		switch r, ok := reads[h.Token]; {
		case h.Token == file && !h.IsError:
			opened++
		case ok && !h.IsError:
			if !bytes.Equal(p, data[r.off:r.off+r.n]) {
				t.Fatalf("READ %v: %d bytes, not the file's %d at %d", h.Token, len(p), r.n, r.off)
			}
			delete(reads, h.Token)
		case h.IsError && string(p) == "not found":
			notFound++
		default:
			t.Fatalf("unexpected answer: token %v, error %v, %q", h.Token, h.IsError, p[:min(len(p), 40)])
		}
	}
	if opened != 1 || notFound != fails || len(reads) != 0 {
		t.Errorf("%d OPENs answered, %d not found of %d, %d READs unanswered", opened, notFound, fails, len(reads))
	}
}

// A READ whose store read hangs holds up no READ behind it on its session:
// the READ of another file pipelined after it is answered while it waits,
// and it is answered, exact, once its read returns.
func TestHungReadHoldsUpNothingBehindIt(t *testing.T) {
	slow, fast := random(100<<10), random(300<<10)
	var hs *hookedStore
	f := newWrappedFixture(t, server.Config{}, map[string][]byte{"slow": slow, "fast": fast}, func(d *store.Disk) store.Opener {
		hs = newHookedStore(d)
		hs.hangRead = map[urn.Hash]bool{shaHash(slow): true}
		return hs
	})
	var once sync.Once
	release := func() { once.Do(func() { close(hs.release) }) }
	defer release() // before the fixture's shutdown, which waits for the read
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := f.rawTCP(t)
	ts, tf := wire.TokenFromUint64(2), wire.TokenFromUint64(4)
	send := func(qs ...wire.Request) {
		if _, err := c.Write(appendRequests(nil, qs...)); err != nil {
			t.Fatal(err)
		}
	}
	send(wire.NewOpen(ts, sha(slow)), wire.NewOpen(tf, sha(fast)), wire.NewRead(wire.TokenFromUint64(6), ts, 0, uint64(len(slow))))
	waitFor(t, ctx, hs.entered, "the slow file's read reaching the store")
	send(wire.NewRead(wire.TokenFromUint64(8), tf, 0, uint64(len(fast))))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	read := func() (wire.ResponseHeader, []byte) {
		h, p, err := wire.ReadResponse(br, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if h.IsError {
			t.Fatalf("token %v: error %q", h.Token, p)
		}
		return h, p
	}
	for range 2 {
		read() // the OPENs
	}
	if h, p := read(); h.Token != wire.TokenFromUint64(8) || !bytes.Equal(p, fast) {
		t.Fatalf("while the slow read hangs: token %v, %d bytes; want the fast file's READ", h.Token, len(p))
	}
	release()
	if h, p := read(); h.Token != wire.TokenFromUint64(6) || !bytes.Equal(p, slow) {
		t.Fatalf("after the slow read returned: token %v, %d bytes; want the slow file's READ", h.Token, len(p))
	}
}

// rawTCP connects to f's TCP listener without a client, for tests that
// write requests byte for byte; the connection is closed when t ends.
func (f *fixture) rawTCP(t *testing.T) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", f.dials["tcp"].Address())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// appendRequests appends the encoding of qs to b.
func appendRequests(b []byte, qs ...wire.Request) []byte {
	for _, q := range qs {
		b = q.Append(b)
	}
	return b
}
