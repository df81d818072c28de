package gemini

import (
	"errors"
	"strings"
	"testing"
)

func TestParseName(t *testing.T) {
	good := []struct{ in, out, hostPort, key string }{
		{"gemini+rtp://files.example.org/isos/latest.iso", "gemini+rtp://files.example.org/isos/latest.iso", "files.example.org:1965", "files.example.org"},
		{"GEMINI+RTP://Files.Example.org:1965/a", "gemini+rtp://Files.Example.org:1965/a", "Files.Example.org:1965", "files.example.org"},
		{"gemini://localhost:1966/cgi-bin/x#frag", "gemini://localhost:1966/cgi-bin/x", "localhost:1966", "localhost:1966"},
		{"gemini+rtp://[::1]:7000/", "gemini+rtp://[::1]:7000/", "[::1]:7000", "[::1]:7000"},
		{"gemini://h", "gemini://h", "h:1965", "h"},
	}
	for _, c := range good {
		u, err := ParseName(c.in)
		if err != nil {
			t.Errorf("ParseName(%q): %v", c.in, err)
			continue
		}
		if u.String() != c.out || hostPort(u) != c.hostPort || hostKey(u) != c.key {
			t.Errorf("ParseName(%q) = %q, %q, %q; want %q, %q, %q", c.in, u, hostPort(u), hostKey(u), c.out, c.hostPort, c.key)
		}
		if !IsName(c.in) {
			t.Errorf("IsName(%q) = false", c.in)
		}
	}
	bad := []string{
		"gemini+rtp://",
		"gemini+rtp:///path",
		"gemini+rtp:opaque",
		"gemini://user@host/",
		"gemini://host:0/",
		"gemini://host:99999/",
		"gemini://host:x/",
		"https://host/",
		"rtp:?u=x",
		"gemini://host/" + strings.Repeat("a", MaxRequest),
		"gemini://ho st/",
	}
	for _, in := range bad {
		if u, err := ParseName(in); !errors.Is(err, ErrBadName) {
			t.Errorf("ParseName(%q) = %v, %v; want ErrBadName", in, u, err)
		}
	}
	for _, s := range []string{"rtp:?u=x", "https://h/", "gemini", "geminix://h/"} {
		if IsName(s) {
			t.Errorf("IsName(%q) = true", s)
		}
	}
}
