package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/rtp-project/rtp/bench/wan"
)

// measure reports, in namespaces of its own: the rate one link and three
// links carry with no limit (one TCP stream each), how close a limited
// link comes to its rate, and how late probes come back against the delay
// asked for.
func measure(ctx context.Context) error {
	a, err := wan.NewNamespace("wanm")
	if err != nil {
		return err
	}
	defer wan.DeleteNamespace(a)
	b, err := wan.NewNamespace("wanm")
	if err != nil {
		return err
	}
	defer wan.DeleteNamespace(b)
	fmt.Printf("CPU %s, %d cores; MTU %d, one TCP stream per link (host congestion control %s), Go sender and receiver in this process\n",
		cpuName(), runtime.NumCPU(), *flagMTU, congestion())

	type link struct {
		rtt  time.Duration
		rate int64
	}
	cases := []struct {
		name  string
		links []link
	}{
		{"one link, no limit, no delay", []link{{0, 0}}},
		{"one link, no limit, RTT 20 ms", []link{{20 * time.Millisecond, 0}}},
		{"three links, no limit, RTT 20 ms", []link{{20 * time.Millisecond, 0}, {20 * time.Millisecond, 0}, {20 * time.Millisecond, 0}}},
		{"one link, 200 Mbit/s, RTT 100 ms", []link{{100 * time.Millisecond, 200e6}}},
		{"three links, 100 Mbit/s, RTT 20/100/300 ms", []link{{20 * time.Millisecond, 100e6}, {100 * time.Millisecond, 100e6}, {300 * time.Millisecond, 100e6}}},
	}
	for _, c := range cases {
		var ls []*wan.Link
		for i, k := range c.links {
			d := wan.Dir{Delay: k.rtt / 2, Rate: k.rate}
			l, err := wan.Start(wan.Config{NameA: a, NameB: b, AtoB: d, BtoA: d, MTU: *flagMTU,
				AddrA: netip.MustParsePrefix(fmt.Sprintf("10.88.%d.1/24", 10+i)),
				AddrB: netip.MustParsePrefix(fmt.Sprintf("10.88.%d.2/24", 10+i))})
			if err != nil {
				return err
			}
			defer l.Close()
			ls = append(ls, l)
		}
		skip := 2 * time.Second
		if c.links[len(c.links)-1].rtt >= 100*time.Millisecond {
			skip = 4 * time.Second
		}
		results := make(chan wan.StreamResult, len(ls))
		errs := make(chan error, len(ls))
		var ru0, ru1 syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
		t0 := time.Now()
		for i, l := range ls {
			go func() {
				r, err := wan.Stream(ctx, l, a, b, netip.MustParseAddr(fmt.Sprintf("10.88.%d.2", 10+i)), skip, 4*time.Second)
				results <- r
				errs <- err
			}()
		}
		var wire, payload float64
		var parts []string
		for range ls {
			r := <-results
			if err := <-errs; err != nil {
				return err
			}
			wire += r.WireBps()
			payload += r.PayloadBps()
			parts = append(parts, fmt.Sprintf("%.0f", r.WireBps()/1e6))
		}
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
		cpu := time.Duration(ru1.Utime.Nano() - ru0.Utime.Nano() + ru1.Stime.Nano() - ru0.Stime.Nano())
		var drops, devDrops int64
		for _, l := range ls {
			s := l.Stats()
			drops += s.AtoB.QueueDrops + s.BtoA.QueueDrops
			ab, ba, err := l.DeviceDrops()
			if err != nil {
				return err
			}
			devDrops += ab + ba
			l.Close()
		}
		fmt.Printf("%-44s wire %6.1f Mbit/s (%s), payload %6.1f Mbit/s, queue drops %d, device drops %d, process CPU %.0f%% of one core\n",
			c.name+":", wire/1e6, strings.Join(parts, "+"), payload/1e6, drops, devDrops, 100*cpu.Seconds()/time.Since(t0).Seconds())
	}
	return probe(a, b)
}

// probe sends UDP probes one at a time through a link with 10 ms each way,
// idle and then beside a 100 Mbit/s stream on another link, and prints how
// much later than 20 ms they came back.
func probe(a, b string) error {
	d := wan.Dir{Delay: 10 * time.Millisecond}
	l, err := wan.Start(wan.Config{NameA: a, NameB: b, AtoB: d, BtoA: d, MTU: *flagMTU,
		AddrA: netip.MustParsePrefix("10.88.20.1/24"), AddrB: netip.MustParsePrefix("10.88.20.2/24")})
	if err != nil {
		return err
	}
	defer l.Close()
	var srv *net.UDPConn
	if err := wan.InNamespace(b, func() (err error) {
		srv, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(10, 88, 20, 2)})
		return err
	}); err != nil {
		return err
	}
	defer srv.Close()
	go func() {
		buf := make([]byte, 64)
		for {
			n, from, err := srv.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			srv.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
	var c *net.UDPConn
	if err := wan.InNamespace(a, func() (err error) {
		c, err = net.DialUDP("udp", nil, srv.LocalAddr().(*net.UDPAddr))
		return err
	}); err != nil {
		return err
	}
	defer c.Close()
	run := func(name string) error {
		var late []time.Duration
		buf := make([]byte, 64)
		for i := range 300 {
			var req [8]byte
			binary.BigEndian.PutUint64(req[:], uint64(i))
			t := time.Now()
			c.Write(req[:])
			c.SetReadDeadline(time.Now().Add(time.Second))
			for {
				n, err := c.Read(buf)
				if err != nil {
					return fmt.Errorf("probe: %w", err)
				}
				if n == 8 && binary.BigEndian.Uint64(buf) == uint64(i) {
					break
				}
			}
			late = append(late, time.Since(t)-20*time.Millisecond)
		}
		slices.Sort(late)
		q := func(p float64) time.Duration { return late[int(p*float64(len(late)-1))].Round(time.Microsecond) }
		fmt.Printf("RTT 20 ms, %s: 300 probes late by min %v p50 %v p90 %v p99 %v max %v\n", name, q(0), q(0.5), q(0.9), q(0.99), q(1))
		return nil
	}
	if err := run("idle"); err != nil {
		return err
	}
	bd := wan.Dir{Delay: 10 * time.Millisecond, Rate: 100e6}
	busy, err := wan.Start(wan.Config{NameA: a, NameB: b, AtoB: bd, BtoA: bd, MTU: *flagMTU,
		AddrA: netip.MustParsePrefix("10.88.21.1/24"), AddrB: netip.MustParsePrefix("10.88.21.2/24")})
	if err != nil {
		return err
	}
	defer busy.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		wan.Stream(ctx, busy, a, b, netip.MustParseAddr("10.88.21.2"), time.Second, 30*time.Second)
		close(done)
	}()
	time.Sleep(time.Second)
	err = run("beside a 100 Mbit/s stream")
	cancel()
	<-done
	return err
}

func cpuName() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func congestion() string {
	b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_congestion_control")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}
