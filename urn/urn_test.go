package urn

import (
	"errors"
	"strings"
	"testing"
)

const emptySHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr error
	}{
		{"urn:sha256:" + emptySHA, "urn:sha256:" + emptySHA, nil},
		{"URN:SHA256:" + strings.ToUpper(emptySHA), "urn:sha256:" + emptySHA, nil},
		{"urn:blake3:" + emptySHA, "urn:blake3:" + emptySHA, nil},
		{"urn:sha256:" + emptySHA[:63], "", ErrMalformed},
		{"urn:sha256:" + emptySHA + "0", "", ErrMalformed},
		{"urn:sha256:" + emptySHA[:62] + "zz", "", ErrMalformed},
		{"urn:sha256:", "", ErrMalformed},
		{"urn:md5:d41d8cd98f00b204e9800998ecf8427e", "", ErrUnsupported},
		{"http://example.com/", "", ErrUnsupported},
		{"", "", ErrUnsupported},
		{"urn:sha25", "", ErrUnsupported},
	}
	for _, tt := range tests {
		h, err := Parse(tt.in)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Parse(%q) error = %v, want %v", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if got := h.String(); got != tt.want {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestComparable(t *testing.T) {
	a, _ := Parse("urn:sha256:" + emptySHA)
	b, _ := Parse("URN:sha256:" + strings.ToUpper(emptySHA))
	c, _ := Parse("urn:blake3:" + emptySHA)
	m := map[Hash]int{a: 1}
	if m[b] != 1 {
		t.Error("equal hashes are not equal map keys")
	}
	if a == c {
		t.Error("hashes of different kinds compare equal")
	}
}

func FuzzParse(f *testing.F) {
	f.Add("urn:sha256:" + emptySHA)
	f.Add("urn:blake3:" + emptySHA)
	f.Add("urn:sha256:zz")
	f.Add("urn:x:")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := Parse(s)
		if err != nil {
			return
		}
		h2, err := Parse(h.String())
		if err != nil || h2 != h {
			t.Fatalf("round trip of %q: %v %v", s, h2, err)
		}
	})
}
