package edge

import (
	"context"
	"net"
	"time"

	"github.com/rtp-project/rtp/rtpurl"
)

// Edges that list each other. RTP/1 has no hop count, so an edge cannot
// tell from a request that another edge sent it on behalf of a client. It
// tells by address: a request from the address of one of its own
// upstreams comes from a sibling (an edge that this one fills from, and
// that fills from this one). Such a request gets the whole blobs the edge
// holds and nothing else: it neither starts a fill nor joins one. For a
// hash neither holds, A asks B, B answers "not found" at once instead of
// asking A back; and while both fill the same blob, neither waits for
// bytes the other is waiting to get from it. A parent (an
// upstream that does not list this edge) fills for it as for any client.
// Loopback addresses are never taken for siblings: on one machine every
// process has them.

// siblings are the addresses of the upstreams, resolved when the edge
// opens.
type siblings struct{ ips map[string]bool }

func newSiblings(ups []rtpurl.Dial) *siblings {
	s := &siblings{ips: map[string]bool{}}
	for _, u := range ups {
		for _, ip := range hostIPs(u.Host) {
			if !ip.IsLoopback() {
				s.ips[ip.String()] = true
			}
		}
	}
	return s
}

// is reports whether a request from addr comes from a sibling.
func (s *siblings) is(addr net.Addr) bool {
	ip := addrIP(addr)
	return ip != nil && !ip.IsLoopback() && s.ips[ip.String()]
}

func addrIP(addr net.Addr) net.IP {
	switch a := addr.(type) {
	case *net.TCPAddr:
		return a.IP
	case *net.UDPAddr:
		return a.IP
	}
	return nil
}

// hostIPs resolves host, within a few seconds; a host that does not
// resolve has none.
func hostIPs(host string) []net.IP {
	if ip := net.ParseIP(host); ip != nil {
		return []net.IP{ip}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return nil
	}
	var ips []net.IP
	for _, a := range addrs {
		ips = append(ips, a.IP)
	}
	return ips
}

// isSelf reports whether u reaches one of the listeners self: the same
// port, over the same kind of socket (TCP for tcp and tls, UDP for quic),
// on an address of the listener's host (any of this machine's when it
// listens on all of them).
func isSelf(u rtpurl.Dial, self []rtpurl.Dial) bool {
	udp := func(d rtpurl.Dial) bool { return d.Proto == rtpurl.QUIC }
	var uips []net.IP
	for _, s := range self {
		if s.Port != u.Port || s.Port == 0 || udp(s) != udp(u) {
			continue
		}
		if uips == nil {
			uips = hostIPs(u.Host)
		}
		sip := net.ParseIP(s.Host)
		for _, ip := range uips {
			switch {
			case sip != nil && sip.IsUnspecified():
				if ip.IsLoopback() || isLocal(ip) {
					return true
				}
			case s.Host == u.Host:
				return true
			default:
				for _, x := range hostIPs(s.Host) {
					if x.Equal(ip) {
						return true
					}
				}
			}
		}
	}
	return false
}

// isLocal reports whether ip is an address of this machine.
func isLocal(ip net.IP) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			return true
		}
	}
	return false
}
