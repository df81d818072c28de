package rtpurl

import (
	"errors"
	"strings"
	"testing"
)

const sha = "urn:sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
const b3 = "urn:blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"

func TestParseDial(t *testing.T) {
	tests := []struct {
		in, want, addr string
		err            error
	}{
		{"tcp!example.org!7777", "tcp!example.org!7777", "example.org:7777", nil},
		{"tls!127.0.0.1", "tls!127.0.0.1!7777", "127.0.0.1:7777", nil},
		{"quic!::1!9000", "quic!::1!9000", "[::1]:9000", nil},
		{"tcp!::1", "tcp!::1!7777", "[::1]:7777", nil},
		{"udp!host!1", "", "", ErrUnknownProto},
		{"tcp", "", "", errors.New("")},
		{"tcp!!7777", "", "", errors.New("")},
		{"tcp!h!port", "", "", errors.New("")},
		{"tcp!h!70000", "", "", errors.New("")},
		{"tcp!h!-1", "", "", errors.New("")},
		{"tcp!h!1!2", "", "", errors.New("")},
		{"tcp![::1]!1", "", "", errors.New("")},
	}
	for _, tt := range tests {
		d, err := ParseDial(tt.in)
		if tt.err != nil {
			if err == nil || (errors.Is(tt.err, ErrUnknownProto) && !errors.Is(err, ErrUnknownProto)) {
				t.Errorf("ParseDial(%q) = %v, %v; want error %v", tt.in, d, err, tt.err)
			}
			continue
		}
		if err != nil || d.String() != tt.want || d.Address() != tt.addr {
			t.Errorf("ParseDial(%q) = %v (%s), %v; want %s (%s)", tt.in, d, d.Address(), err, tt.want, tt.addr)
		}
	}
}

func TestParseURL(t *testing.T) {
	good := "rtp:?u=" + sha + "&u=" + b3 + "&l=0&s=tcp!h!1&s=quic!::1!2&s=ftp!x!3&t=text/plain&v=1&dn=empty.txt&zz=ignored"
	u, err := Parse(good)
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Hashes) != 2 || u.Length != 0 || len(u.Servers) != 2 || len(u.Skipped) != 1 || u.Name != "empty.txt" || u.Types[0] != "text/plain" {
		t.Errorf("Parse(%q) = %+v", good, u)
	}
	again, err := Parse(u.String())
	if err != nil || again.String() != u.String() {
		t.Errorf("round trip: %q, %v", u.String(), err)
	}
	pct := "rtp:?u=urn%3Asha256%3A" + strings.TrimPrefix(sha, "urn:sha256:") + "&s=tcp%21h%211"
	if _, err := Parse(pct); err != nil {
		t.Errorf("percent-encoded: %v", err)
	}
	bad := map[string]string{
		"no u":          "rtp:?s=tcp!h!1",
		"unknown u":     "rtp:?u=urn:md5:00&s=tcp!h!1",
		"malformed urn": "rtp:?u=urn:sha256:00&s=tcp!h!1",
		"no s":          "rtp:?u=" + sha,
		"only ftp s":    "rtp:?u=" + sha + "&s=ftp!h!1",
		"v=2":           "rtp:?u=" + sha + "&s=tcp!h!1&v=2",
		"two v":         "rtp:?u=" + sha + "&s=tcp!h!1&v=1&v=1",
		"bad l":         "rtp:?u=" + sha + "&s=tcp!h!1&l=-1",
		"two l":         "rtp:?u=" + sha + "&s=tcp!h!1&l=1&l=1",
		"scheme":        "http://x/?u=" + sha,
		"bad escape":    "rtp:?u=%zz",
		"bad s":         "rtp:?u=" + sha + "&s=tcp!h!x",
	}
	for name, s := range bad {
		if _, err := Parse(s); !errors.Is(err, ErrBadURL) {
			t.Errorf("%s: Parse(%q) error = %v, want ErrBadURL", name, s, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("rtp:?u=" + sha + "&l=5&s=tcp!h!1")
	f.Add("rtp:?u=" + b3 + "&s=quic!::1&dn=a%20b")
	f.Fuzz(func(t *testing.T, s string) {
		u, err := Parse(s)
		if err != nil {
			return
		}
		again, err := Parse(u.String())
		if err != nil {
			t.Fatalf("re-parse of %q: %v", u.String(), err)
		}
		if again.String() != u.String() {
			t.Fatalf("not stable: %q vs %q", again.String(), u.String())
		}
	})
}

func FuzzParseDial(f *testing.F) {
	f.Add("tcp!::1!7777")
	f.Add("quic!example.org")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDial(s)
		if err != nil {
			return
		}
		d2, err := ParseDial(d.String())
		if err != nil || d2 != d {
			t.Fatalf("round trip of %q: %v %v", s, d2, err)
		}
	})
}
