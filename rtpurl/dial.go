package rtpurl

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// DefaultPort is RTP/1's port for TCP, TLS and QUIC.
const DefaultPort = 7777

// Protocols a dial string may name.
const (
	TCP  = "tcp"
	TLS  = "tls"
	QUIC = "quic"
)

// ErrUnknownProto is wrapped by ParseDial for a well-formed dial string whose
// protocol is not tcp, tls or quic; clients skip such servers with a warning.
var ErrUnknownProto = errors.New("unknown protocol")

// Dial is a parsed dial string: proto!host!port.
type Dial struct {
	Proto string
	Host  string // a name, an IPv4 address or a bare IPv6 address
	Port  int
}

// ParseDial parses "proto!host[!port]". The port defaults to 7777.
func ParseDial(s string) (Dial, error) {
	parts := strings.Split(s, "!")
	if len(parts) < 2 || len(parts) > 3 {
		return Dial{}, fmt.Errorf("dial string %q: want proto!host!port", s)
	}
	d := Dial{Proto: parts[0], Host: parts[1], Port: DefaultPort}
	if d.Host == "" || strings.ContainsAny(d.Host, "[]/ \t") {
		return Dial{}, fmt.Errorf("dial string %q: bad host %q", s, d.Host)
	}
	if len(parts) == 3 {
		p, err := strconv.Atoi(parts[2])
		if err != nil || p < 0 || p > 65535 || parts[2] == "" || parts[2][0] == '+' || parts[2][0] == '-' {
			return Dial{}, fmt.Errorf("dial string %q: bad port %q", s, parts[2])
		}
		d.Port = p
	}
	switch d.Proto {
	case TCP, TLS, QUIC:
	default:
		return d, fmt.Errorf("dial string %q: %w %q", s, ErrUnknownProto, d.Proto)
	}
	return d, nil
}

// Address returns host:port for net.Dial, bracketing IPv6 addresses.
func (d Dial) Address() string { return net.JoinHostPort(d.Host, strconv.Itoa(d.Port)) }

// String returns the dial string, always with its port.
func (d Dial) String() string { return d.Proto + "!" + d.Host + "!" + strconv.Itoa(d.Port) }

// DialFromAddr returns the dial string for proto and a net.Addr's host:port.
func DialFromAddr(proto string, addr net.Addr) Dial {
	host, port, _ := net.SplitHostPort(addr.String())
	p, _ := strconv.Atoi(port)
	return Dial{Proto: proto, Host: host, Port: p}
}
