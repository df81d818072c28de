// Package netlimit bounds the connections a listener hands out: in all,
// and from one remote address, so that one host cannot take every slot
// (or every file descriptor) of a face that serves the public.
package netlimit

import (
	"net"
	"sync"
)

// Listen wraps ln: Accept waits while total connections are open, and
// closes at once a connection from an address that already has perHost
// open. A connection's slot is given back when it is closed.
func Listen(ln net.Listener, total, perHost int) net.Listener {
	return &listener{Listener: ln, slots: make(chan struct{}, total), perHost: perHost, hosts: make(map[string]int)}
}

type listener struct {
	net.Listener
	slots   chan struct{}
	perHost int

	mu    sync.Mutex
	hosts map[string]int
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		l.slots <- struct{}{}
		c, err := l.Listener.Accept()
		if err != nil {
			<-l.slots
			return nil, err
		}
		host := hostOf(c.RemoteAddr())
		l.mu.Lock()
		full := l.hosts[host] >= l.perHost
		if !full {
			l.hosts[host]++
		}
		l.mu.Unlock()
		if full {
			c.Close()
			<-l.slots
			continue
		}
		return &conn{Conn: c, l: l, host: host}, nil
	}
}

func (l *listener) release(host string) {
	l.mu.Lock()
	if l.hosts[host]--; l.hosts[host] <= 0 {
		delete(l.hosts, host)
	}
	l.mu.Unlock()
	<-l.slots
}

type conn struct {
	net.Conn
	l    *listener
	host string
	once sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.host) })
	return err
}

func hostOf(a net.Addr) string {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.IP.String()
	}
	h, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return h
}
