package server_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/rtp-project/rtp/client"
	"github.com/rtp-project/rtp/server"
	"github.com/rtp-project/rtp/wire"
)

// FuzzSession sends arbitrary bytes as a whole session to a real server on
// loopback TCP. Whatever they are, the server answers only with well-formed
// responses, closes the session within a few seconds of the input's end,
// and still serves a good client afterwards.
func FuzzSession(f *testing.F) {
	data := []byte("fuzzed file contents, 38 bytes long..")
	tok := wire.TokenFromUint64(2)
	open := wire.NewOpen(tok, sha(data))
	read := wire.NewRead(wire.TokenFromUint64(4), tok, 3, 10)
	f.Add(append(open.Append(nil), read.Append(nil)...))
	f.Add(open.Append(nil)[:11])
	f.Add(read.Append(nil))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f})
	big := wire.NewRead(wire.TokenFromUint64(6), tok, 0, 1<<62)
	f.Add(append(open.Append(nil), big.Append(nil)...))
	// One server for all inputs.
	fx := newFixture(f, server.Config{RequestTimeout: time.Second}, map[string][]byte{"a": data})
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := net.Dial("tcp", fx.dials["tcp"].Address())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		go func() {
			c.Write(in)
			c.(*net.TCPConn).CloseWrite()
		}()
		br := bufio.NewReader(c)
		for {
			_, _, err := wire.ReadResponse(br, 1<<20)
			if err == nil {
				continue
			}
			var ne net.Error
			switch {
			case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
			case errors.As(err, &ne) && ne.Timeout():
				t.Fatalf("session still open 5 s after the input ended")
			case errors.Is(err, io.ErrUnexpectedEOF):
				// Cut off mid-response: only when the server ended the
				// session on purpose (a uri too long, a read failure).
			default:
				if !isReset(err) {
					t.Fatalf("malformed response: %v", err)
				}
			}
			break
		}

		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s, err := client.Dial(ctx, fx.dials["tcp"], nil)
		if err != nil {
			t.Fatalf("server gone: %v", err)
		}
		defer s.Close()
		tk, err := s.Open(ctx, sha(data))
		if err != nil {
			t.Fatalf("good OPEN after the fuzzed session: %v", err)
		}
		p := make([]byte, len(data))
		if n, err := s.ReadAt(ctx, tk, p, 0); err != nil || !bytes.Equal(p[:n], data) {
			t.Fatalf("good READ after the fuzzed session: %d bytes, %v", n, err)
		}
	})
}

func isReset(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe)
}
