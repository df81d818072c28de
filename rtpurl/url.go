package rtpurl

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/rtp-project/rtp/urn"
)

// ErrBadURL is wrapped by every Parse error.
var ErrBadURL = errors.New("bad rtp: URL")

// URL is a parsed rtp: URL.
type URL struct {
	Hashes  []urn.Hash // the u values of known kinds, in order
	Unknown []string   // u values of kinds this package does not know
	Length  int64      // -1 when l is absent
	Servers []Dial     // usable s values, in order
	Skipped []string   // s values with an unknown protocol, for warnings
	Types   []string   // t values
	Name    string     // dn, this project's suggested file name
}

// Parse parses an rtp: URL. It fails when v is not 1, when there is no u of
// a known kind, when a known-kind u is malformed, when l is not a
// non-negative integer or appears twice, or when no s is usable.
func Parse(s string) (*URL, error) {
	rest, ok := strings.CutPrefix(s, "rtp:")
	if !ok {
		return nil, fmt.Errorf("%w: it does not start with rtp:?", ErrBadURL)
	}
	rest = strings.TrimPrefix(rest, "?")
	q, err := url.ParseQuery(rest)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	u := &URL{Length: -1}
	if vs := q["v"]; len(vs) > 1 || (len(vs) == 1 && vs[0] != "1") {
		return nil, fmt.Errorf("%w: version %q, only v=1 is known", ErrBadURL, strings.Join(vs, ","))
	}
	for _, v := range q["u"] {
		h, err := urn.Parse(v)
		switch {
		case errors.Is(err, urn.ErrUnsupported):
			u.Unknown = append(u.Unknown, v)
		case err != nil:
			return nil, fmt.Errorf("%w: u=%.80s: %v", ErrBadURL, v, err)
		default:
			u.Hashes = append(u.Hashes, h)
		}
	}
	if len(u.Hashes) == 0 {
		return nil, fmt.Errorf("%w: no u of a known kind (urn:sha256: or urn:blake3:)", ErrBadURL)
	}
	if ls := q["l"]; len(ls) > 1 {
		return nil, fmt.Errorf("%w: more than one l", ErrBadURL)
	} else if len(ls) == 1 {
		n, err := strconv.ParseInt(ls[0], 10, 64)
		if err != nil || n < 0 || ls[0][0] == '+' {
			return nil, fmt.Errorf("%w: l=%.40q is not a length", ErrBadURL, ls[0])
		}
		u.Length = n
	}
	for _, v := range q["s"] {
		d, err := ParseDial(v)
		switch {
		case errors.Is(err, ErrUnknownProto):
			u.Skipped = append(u.Skipped, v)
		case err != nil:
			return nil, fmt.Errorf("%w: %v", ErrBadURL, err)
		default:
			u.Servers = append(u.Servers, d)
		}
	}
	if len(u.Servers) == 0 {
		return nil, fmt.Errorf("%w: no server (s=tcp!host!port, tls!… or quic!…) it can dial", ErrBadURL)
	}
	u.Types = q["t"]
	if dn := q["dn"]; len(dn) > 0 {
		u.Name = dn[0]
	}
	return u, nil
}

// String formats the URL: u values, l, s values, t values, dn, in that order.
func (u *URL) String() string {
	var b strings.Builder
	b.WriteString("rtp:?")
	sep := ""
	add := func(k, v string) {
		b.WriteString(sep + k + "=" + escape(v))
		sep = "&"
	}
	for _, h := range u.Hashes {
		add("u", h.String())
	}
	for _, v := range u.Unknown {
		add("u", v)
	}
	if u.Length >= 0 {
		add("l", strconv.FormatInt(u.Length, 10))
	}
	for _, d := range u.Servers {
		add("s", d.String())
	}
	for _, t := range u.Types {
		add("t", t)
	}
	if u.Name != "" {
		add("dn", u.Name)
	}
	return b.String()
}

// escape percent-encodes v but leaves the characters of urns and dial
// strings readable.
func escape(v string) string {
	e := url.QueryEscape(v)
	return strings.NewReplacer("%21", "!", "%3A", ":", "%2F", "/").Replace(e)
}
