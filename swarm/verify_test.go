package swarm

import (
	"slices"
	"testing"

	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/urn"
)

func TestChecked(t *testing.T) {
	b3 := urn.New(urn.BLAKE3, [32]byte{1})
	b3b := urn.New(urn.BLAKE3, [32]byte{2})
	sha := urn.New(urn.SHA256, [32]byte{3})
	for _, c := range []struct {
		hashes []urn.Hash
		v      Verify
		want   []urn.Hash
	}{
		{[]urn.Hash{b3, sha}, VerifyOne, []urn.Hash{b3}},
		{[]urn.Hash{sha, b3}, VerifyOne, []urn.Hash{b3}},
		{[]urn.Hash{sha, b3, b3b}, VerifyOne, []urn.Hash{b3}},
		{[]urn.Hash{sha}, VerifyOne, []urn.Hash{sha}},
		{[]urn.Hash{b3}, VerifyOne, []urn.Hash{b3}},
		{[]urn.Hash{sha, b3}, VerifyAll, []urn.Hash{sha, b3}},
		{[]urn.Hash{b3, sha, b3b}, VerifyAll, []urn.Hash{b3, sha, b3b}},
	} {
		u := &rtpurl.URL{Hashes: c.hashes}
		got := Checked(u, c.v)
		if !slices.Equal(got, c.want) {
			t.Errorf("Checked(%v, %v) = %v, want %v", c.hashes, c.v, got, c.want)
		}
		if len(got) > 0 && &got[0] == &u.Hashes[0] && c.v == VerifyAll {
			t.Errorf("Checked(%v, all) shares the URL's slice", c.hashes)
		}
	}
}

func TestParseVerify(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Verify
		ok   bool
	}{
		{"one", VerifyOne, true},
		{"all", VerifyAll, true},
		{"", 0, false},
		{"ALL", 0, false},
		{"strongest", 0, false},
	} {
		v, err := ParseVerify(c.in)
		if (err == nil) != c.ok || (c.ok && (v != c.want || v.String() != c.in)) {
			t.Errorf("ParseVerify(%q) = %v, %v", c.in, v, err)
		}
	}
}
