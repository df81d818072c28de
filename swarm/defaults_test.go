package swarm

import (
	"runtime"
	"testing"

	"github.com/rtp-project/rtp/rtpurl"
)

// TestDefaultSessionsPerHost: a URL that names one host, over one transport
// or several, gets a one-server URL's sessions on each dial string, so that
// when path probing finds one transport slow (QUIC under loss) the other is
// not left with a single session; a URL naming several hosts gets one each.
func TestDefaultSessionsPerHost(t *testing.T) {
	one := min(max(runtime.NumCPU()+1, 2), 4)
	d := func(proto, host string) rtpurl.Dial { return rtpurl.Dial{Proto: proto, Host: host, Port: 7777} }
	for _, c := range []struct {
		name    string
		servers []rtpurl.Dial
		want    int
	}{
		{"one dial string", []rtpurl.Dial{d("tcp", "a")}, one},
		{"one host over QUIC and TCP", []rtpurl.Dial{d("quic", "a"), d("tcp", "a")}, one},
		{"one host over three transports", []rtpurl.Dial{d("tcp", "a"), d("tls", "a"), d("quic", "a")}, one},
		{"two hosts", []rtpurl.Dial{d("tcp", "a"), d("tcp", "b")}, 1},
		{"two hosts, one over two transports", []rtpurl.Dial{d("quic", "a"), d("tcp", "a"), d("tcp", "b")}, 1},
	} {
		cfg := Config{URL: &rtpurl.URL{Servers: c.servers}}
		cfg.setDefaults()
		if cfg.Sessions != c.want {
			t.Errorf("%s: %d sessions per server, want %d", c.name, cfg.Sessions, c.want)
		}
	}
}
