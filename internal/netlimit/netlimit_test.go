package netlimit

import (
	"net"
	"testing"
	"time"
)

// dialFrom connects to ln from the loopback address src.
func dialFrom(t *testing.T, ln net.Listener, src string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// acceptAll accepts on ln until it is closed, handing each connection on.
func acceptAll(ln net.Listener) <-chan net.Conn {
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	return accepted
}

// closedByServer reports whether the server closed c without a word.
func closedByServer(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	_, err := c.Read(make([]byte, 1))
	return err != nil && !isTimeout(err)
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// TestPerHost: of three connections from one address with two allowed,
// the third is closed at once; another address still gets in; once one of
// the first two closes, the address may connect again.
func TestPerHost(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := Listen(raw, 4, 2)
	defer ln.Close()
	accepted := acceptAll(ln)
	take := func(what string) net.Conn {
		select {
		case c := <-accepted:
			return c
		case <-time.After(2 * time.Second):
			t.Fatalf("%s: not accepted", what)
			return nil
		}
	}
	dialFrom(t, ln, "127.0.0.1")
	first := take("first")
	dialFrom(t, ln, "127.0.0.1")
	take("second")
	third := dialFrom(t, ln, "127.0.0.1")
	if !closedByServer(third) {
		t.Error("a third connection from one address was kept open")
	}
	other := dialFrom(t, ln, "127.0.0.2")
	take("another address")
	if closedByServer(other) {
		t.Error("a connection from another address was closed")
	}
	first.Close()
	again := dialFrom(t, ln, "127.0.0.1")
	take("after one closed")
	if closedByServer(again) {
		t.Error("the address could not connect again after one of its connections closed")
	}
}

// TestTotal: past the total, Accept waits until a connection closes.
func TestTotal(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := Listen(raw, 1, 1)
	defer ln.Close()
	accepted := acceptAll(ln)
	dialFrom(t, ln, "127.0.0.1")
	c1 := <-accepted
	dialFrom(t, ln, "127.0.0.2")
	select {
	case <-accepted:
		t.Fatal("a second connection was accepted past the total of 1")
	case <-time.After(300 * time.Millisecond):
	}
	c1.Close()
	select {
	case <-accepted:
	case <-time.After(2 * time.Second):
		t.Fatal("the waiting connection was not accepted once the first closed")
	}
}
