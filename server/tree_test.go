package server_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"lukechampine.com/blake3"

	"github.com/rtp-project/rtp/client"
	"github.com/rtp-project/rtp/outboard"
	"github.com/rtp-project/rtp/server"
	"github.com/rtp-project/rtp/urn"
	"github.com/rtp-project/rtp/wire"
)

// The tree of a blake3 urn is a resource of its own; bad tree URIs get the
// same errors as bad urns, and the trees of unknown hashes are not found.
func TestServeTree(t *testing.T) {
	data := random(20<<20 + 7) // a tree kept in a file
	small := random(5 << 20)   // a tree kept in the index
	f := newFixture(t, server.Config{MaxRead: 100 << 10}, map[string][]byte{"f": data, "s": small})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, d := range f.dials {
		s, err := client.Dial(ctx, d, f.opts)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for _, b := range [][]byte{data, small} {
			h := urn.New(urn.BLAKE3, blake3.Sum256(b))
			tok, err := s.Open(ctx, outboard.URI(h))
			if err != nil {
				t.Fatal(err)
			}
			tree, err := readAll(ctx, s, tok)
			if err != nil {
				t.Fatal(err)
			}
			tr, err := outboard.NewTree(tree, h.Sum, int64(len(b)))
			if err != nil {
				t.Fatalf("%s: %v", d, err)
			}
			if err := tr.Check(0, b); err != nil {
				t.Fatal(err)
			}
		}
		for _, bad := range []struct {
			uri  string
			want error
		}{
			{outboard.Scheme + "00", wire.ErrMalformedURN},
			{outboard.Scheme + urn.New(urn.BLAKE3, [32]byte{1}).Hex(), wire.ErrNotFound},
			{"urn:sha256-outboard:" + urn.New(urn.BLAKE3, [32]byte{1}).Hex(), wire.ErrUnsupportedScheme},
		} {
			if _, err := s.Open(ctx, bad.uri); !errors.Is(err, bad.want) {
				t.Errorf("%s: OPEN %s: %v, want %v", d, bad.uri, err, bad.want)
			}
		}
	}
}
