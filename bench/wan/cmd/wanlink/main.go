// Command wanlink emulates a WAN link between two network namespaces with
// package wan, until Ctrl-C or SIGTERM:
//
//	go run ./bench/wan/cmd/wanlink -a nsA -b nsB -rtt 100ms -loss 0.01 -rate 200M
//
// Every impairment flag takes one value for both directions or two
// separated by a slash, A to B first: -loss 0.02/0 loses only what A sends.
// -create makes the namespaces (and removes them at the end) when they do
// not exist. -measure makes its own namespaces and reports the rate the
// emulator carries on this machine and the precision of its delay and rate.
// Bad flags exit 2 with a one-line reason.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rtp-project/rtp/bench/wan"
)

var (
	flagA       = flag.String("a", "", "namespace of end A")
	flagB       = flag.String("b", "", "namespace of end B")
	flagAddrA   = flag.String("addr-a", "10.88.1.1/24", "address/prefix of A's device")
	flagAddrB   = flag.String("addr-b", "10.88.1.2/24", "address/prefix of B's device")
	flagCreate  = flag.Bool("create", false, "make the namespaces that do not exist, and remove them at exit")
	flagRTT     = flag.String("rtt", "0", "round-trip delay, half each way (overridden by -delay)")
	flagDelay   = flag.String("delay", "", "one-way delay, e.g. 50ms or 50ms/10ms")
	flagJitter  = flag.String("jitter", "0", "one-way jitter: delay varies uniformly by ± this, without reordering")
	flagLoss    = flag.String("loss", "0", "random loss probability 0..1")
	flagGE      = flag.String("ge", "", "Gilbert-Elliott burst loss P,R[,LossGood[,LossBad]] (LossBad defaults to 1), replaces -loss")
	flagRate    = flag.String("rate", "0", "rate in bits/s of IP bytes, with k, M or G: 200M; 0 unlimited")
	flagQueue   = flag.String("queue", "100ms", "tail-drop queue before the rate limiter: a time at the rate (100ms) or bytes (1.5MB, 64KB, 9000)")
	flagMTU     = flag.Int("mtu", 1500, "MTU of both devices")
	flagSeed    = flag.Uint64("seed", 0, "seed of loss and jitter (0: random)")
	flagStats   = flag.Duration("stats", 0, "print the counters at this interval (0: only at exit)")
	flagMeasure = flag.Bool("measure", false, "measure the emulator's capacity and precision in namespaces of its own, and exit")
)

func main() {
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if *flagMeasure {
		err = measure(ctx)
	} else {
		err = run(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "wanlink:", err)
		var u usageError
		if errors.As(err, &u) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

type usageError struct{ error }

func run(ctx context.Context) error {
	if *flagA == "" || *flagB == "" {
		return usageError{errors.New("-a and -b name the two namespaces (or -measure)")}
	}
	cfg, err := config()
	if err != nil {
		return usageError{err}
	}
	if *flagCreate {
		for _, n := range []string{cfg.NameA, cfg.NameB} {
			if _, err := os.Stat("/run/netns/" + n); err == nil {
				continue
			}
			if err := addNamespace(n); err != nil {
				return err
			}
			defer wan.DeleteNamespace(n)
		}
	}
	l, err := wan.Start(cfg)
	if err != nil {
		if errors.Is(err, wan.ErrConfig) {
			return usageError{err}
		}
		return err
	}
	fmt.Printf("%s %s (%v) <-> %s %s (%v)\n  A->B %s\n  B->A %s\n", cfg.NameA, l.DevA, cfg.AddrA, cfg.NameB, l.DevB, cfg.AddrB, describe(cfg.AtoB), describe(cfg.BtoA))
	var tick <-chan time.Time
	if *flagStats > 0 {
		t := time.NewTicker(*flagStats)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-tick:
			printStats(l, l.Stats())
			continue
		case <-ctx.Done():
		}
		break
	}
	printStats(l, l.Stats())
	return l.Close()
}

func config() (wan.Config, error) {
	cfg := wan.Config{NameA: *flagA, NameB: *flagB, MTU: *flagMTU, Seed: *flagSeed}
	var err error
	if cfg.AddrA, err = netip.ParsePrefix(*flagAddrA); err != nil {
		return cfg, fmt.Errorf("-addr-a: %v", err)
	}
	if cfg.AddrB, err = netip.ParsePrefix(*flagAddrB); err != nil {
		return cfg, fmt.Errorf("-addr-b: %v", err)
	}
	cfg.AtoB, cfg.BtoA, err = dirs()
	return cfg, err
}

func describe(d wan.Dir) string {
	s := fmt.Sprintf("delay %v jitter %v", d.Delay, d.Jitter)
	if d.GE != nil {
		s += fmt.Sprintf(" Gilbert-Elliott %+v", *d.GE)
	} else {
		s += fmt.Sprintf(" loss %g", d.Loss)
	}
	if d.Rate > 0 {
		s += fmt.Sprintf(" rate %g Mbit/s", float64(d.Rate)/1e6)
		if d.Queue > 0 {
			s += fmt.Sprintf(" queue %d B", d.Queue)
		} else {
			s += " queue 100 ms"
		}
	}
	return s
}

func printStats(l *wan.Link, s wan.Stats) {
	ab, ba, err := l.DeviceDrops()
	if err != nil {
		fmt.Fprintln(os.Stderr, "wanlink:", err)
	}
	for _, d := range []struct {
		name    string
		s       wan.DirStats
		devDrop int64
	}{{"A->B", s.AtoB, ab}, {"B->A", s.BtoA, ba}} {
		fmt.Printf("%s: %d packets %d bytes forwarded, %d lost, %d queue drops, %d write errors, %d in flight, %d dropped by the device unread\n",
			d.name, d.s.Packets, d.s.Bytes, d.s.LossDrops, d.s.QueueDrops, d.s.WriteErrors, d.s.InFlight, d.devDrop)
	}
}
