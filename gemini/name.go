package gemini

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Schemes of the names this package resolves and serves.
const (
	SchemeRTP    = "gemini+rtp" // a name for an rtp: URL, sent in proxy mode
	SchemeGemini = "gemini"     // the same name for servers that refuse proxy requests
)

const (
	// DefaultPort is Gemini's TCP port.
	DefaultPort = 1965
	// MaxRequest is the longest request URL Gemini allows, in bytes.
	MaxRequest = 1024
	// MaxMeta is the longest response meta Gemini allows, in bytes.
	MaxMeta = 1024
	// MaxRedirects is how many redirects Resolve follows, counting the last
	// one to the rtp: URL.
	MaxRedirects = 5
)

// IsName reports whether s starts with gemini+rtp: or gemini: (any case),
// so a caller can tell names from rtp: URLs before parsing either.
func IsName(s string) bool {
	scheme, _, ok := strings.Cut(s, ":")
	if !ok {
		return false
	}
	scheme = strings.ToLower(scheme)
	return scheme == SchemeRTP || scheme == SchemeGemini
}

// ParseName parses a gemini+rtp:// or gemini:// name. It fails, wrapping
// ErrBadName, on another scheme, a missing host, a user part, a bad port, or
// a URL longer than MaxRequest bytes. A fragment is dropped: Gemini requests
// never carry one.
func ParseName(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadName, err)
	}
	if err := checkName(u); err != nil {
		return nil, err
	}
	return u, nil
}

func checkName(u *url.URL) error {
	switch u.Scheme {
	case SchemeRTP, SchemeGemini:
	default:
		return fmt.Errorf("%w: %.80q: want gemini+rtp://host/path or gemini://host/path", ErrBadName, u.String())
	}
	u.Fragment, u.RawFragment = "", ""
	if u.Opaque != "" || u.Hostname() == "" {
		return fmt.Errorf("%w: %.80q has no host", ErrBadName, u.String())
	}
	if u.User != nil {
		return fmt.Errorf("%w: %.80q: Gemini names carry no user", ErrBadName, u.String())
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%w: %.80q: bad port %q", ErrBadName, u.String(), p)
		}
	}
	if n := len(u.String()); n > MaxRequest {
		return fmt.Errorf("%w: %d bytes, Gemini allows %d", ErrBadName, n, MaxRequest)
	}
	return nil
}

// hostPort is where a name's server listens: host:port, port 1965 unless
// the name says otherwise.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = strconv.Itoa(DefaultPort)
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// hostKey names a server in the known-hosts file: its host, with :port when
// the port is not 1965, so two servers on one machine keep separate pins.
func hostKey(u *url.URL) string {
	if p := u.Port(); p != "" && p != strconv.Itoa(DefaultPort) {
		return net.JoinHostPort(strings.ToLower(u.Hostname()), p)
	}
	return strings.ToLower(u.Hostname())
}
