package wan

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"sync"
	"time"
)

// Dir is the impairment of one direction of a link. The zero Dir is a
// perfect link: no delay, no loss, no rate limit.
type Dir struct {
	// Delay is the one-way propagation delay; Jitter adds a uniform
	// [-Jitter, +Jitter] to it per packet (never below zero). Packets are
	// never reordered: one whose delay would overtake the packet before it
	// leaves right after that packet instead, so large jitter on a busy
	// link shifts the mean up, as on a real FIFO path.
	Delay, Jitter time.Duration
	// Loss is the probability, 0..1, that a packet is dropped on arrival,
	// before the queue. Loss 1 is a blackout.
	Loss float64
	// GE, when set, replaces Loss with a two-state burst loss model.
	GE *GilbertElliott
	// Rate is the link rate in bits per second of IP packet bytes (the
	// bytes the TUN device carries: IP header and payload). Zero means
	// unlimited.
	Rate int64
	// Queue is the size in bytes of the tail-drop queue in front of the
	// rate limiter: a packet that would make the bytes waiting exceed it
	// is dropped. Zero means 100 ms at Rate (at least one MTU). Unused
	// when Rate is zero.
	Queue int
}

// GilbertElliott is a burst loss model with a good and a bad state. Before
// each packet the state changes, good to bad with probability P and bad to
// good with probability R; the packet is then lost with LossGood or LossBad
// by its state. Bad runs last 1/R packets on average, and the long-run loss
// is (R*LossGood + P*LossBad) / (P+R). All four are 0..1.
type GilbertElliott struct{ P, R, LossGood, LossBad float64 }

// Config describes a link between two existing network namespaces.
type Config struct {
	// NameA and NameB name network namespaces as `ip netns` lists them
	// (files in /run/netns). The caller makes and removes them.
	NameA, NameB string
	// AddrA and AddrB are the addresses of the TUN device in NameA and in
	// NameB, with the prefix that routes to the other one, e.g.
	// 10.88.1.1/24 and 10.88.1.2/24. Both of one family, different.
	AddrA, AddrB netip.Prefix
	// AtoB is the impairment of packets sent from NameA to NameB, BtoA of
	// the other direction.
	AtoB, BtoA Dir
	// MTU of both devices; zero means 1500.
	MTU int
	// Seed seeds the random loss and jitter, for runs that repeat exactly;
	// zero means a random seed.
	Seed uint64
}

// Link forwards packets between the two TUN devices of a Config until
// Close. Its methods are safe for concurrent use.
type Link struct {
	// DevA and DevB are the names of the TUN devices in NameA and NameB.
	DevA, DevB string

	nameA, nameB string
	ab, ba       *dir
	fa, fb       *os.File
	stop         chan struct{}
	wg           sync.WaitGroup

	mu     sync.Mutex
	closed bool
}

// Stats counts what a link did, per direction.
type Stats struct{ AtoB, BtoA DirStats }

// DirStats counts the packets of one direction. Bytes are IP packet bytes.
type DirStats struct {
	Received    int64 // packets read from the sending device
	Packets     int64 // packets written to the receiving device
	Bytes       int64 // bytes of those packets
	LossDrops   int64 // packets dropped by Loss or GE
	QueueDrops  int64 // packets dropped because the queue was full
	WriteErrors int64 // packets the receiving device refused
	InFlight    int   // packets past the queue not yet delivered, now
	MaxPacket   int   // largest packet read, in bytes
}

// Check reports whether every field of d is in its range.
func (d Dir) Check() error {
	switch {
	case d.Delay < 0 || d.Jitter < 0:
		return fmt.Errorf("%w: negative delay or jitter", ErrConfig)
	case !(d.Loss >= 0 && d.Loss <= 1):
		return fmt.Errorf("%w: loss %v outside 0..1", ErrConfig, d.Loss)
	case d.Rate < 0 || d.Queue < 0:
		return fmt.Errorf("%w: negative rate or queue", ErrConfig)
	}
	if g := d.GE; g != nil {
		for _, p := range []float64{g.P, g.R, g.LossGood, g.LossBad} {
			if !(p >= 0 && p <= 1) {
				return fmt.Errorf("%w: Gilbert-Elliott probability %v outside 0..1", ErrConfig, p)
			}
		}
	}
	return nil
}

func (c *Config) check() error {
	if c.MTU == 0 {
		c.MTU = 1500
	}
	switch {
	case c.NameA == "" || c.NameB == "":
		return fmt.Errorf("%w: both namespaces must be named", ErrConfig)
	case !c.AddrA.IsValid() || !c.AddrB.IsValid():
		return fmt.Errorf("%w: both addresses must be set", ErrConfig)
	case c.AddrA.Addr().Is4() != c.AddrB.Addr().Is4():
		return fmt.Errorf("%w: addresses %v and %v of different families", ErrConfig, c.AddrA, c.AddrB)
	case c.AddrA.Addr() == c.AddrB.Addr():
		return fmt.Errorf("%w: both ends have address %v", ErrConfig, c.AddrA.Addr())
	case c.MTU < 68 || c.MTU > 65535:
		return fmt.Errorf("%w: MTU %d outside 68..65535", ErrConfig, c.MTU)
	}
	for _, n := range []string{c.NameA, c.NameB} {
		if _, err := os.Stat("/run/netns/" + n); err != nil {
			return fmt.Errorf("%w: namespace %q: %v", ErrConfig, n, err)
		}
	}
	if err := c.AtoB.Check(); err != nil {
		return fmt.Errorf("AtoB: %w", err)
	}
	if err := c.BtoA.Check(); err != nil {
		return fmt.Errorf("BtoA: %w", err)
	}
	return nil
}

// Start creates a TUN device in each namespace with its address, MTU and
// the connected route of its prefix, and forwards packets between them
// until Close. It needs CAP_NET_ADMIN and the ip(8) command.
func Start(cfg Config) (*Link, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	l := &Link{DevA: devName("a"), DevB: devName("b"), nameA: cfg.NameA, nameB: cfg.NameB, stop: make(chan struct{})}
	var err error
	if l.fa, err = openTUN(l.DevA); err != nil {
		return nil, err
	}
	if l.fb, err = openTUN(l.DevB); err != nil {
		l.fa.Close()
		return nil, err
	}
	if err = setupDev(l.DevA, cfg.NameA, cfg.AddrA, cfg.MTU); err == nil {
		err = setupDev(l.DevB, cfg.NameB, cfg.AddrB, cfg.MTU)
	}
	if err != nil {
		l.fa.Close() // a closed TUN fd deletes its device
		l.fb.Close()
		return nil, err
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	epoch := time.Now()
	l.ab = newDir(l.fa, l.fb, cfg.AtoB, cfg.MTU, seed, epoch, l.stop)
	l.ba = newDir(l.fb, l.fa, cfg.BtoA, cfg.MTU, seed^0x9e3779b97f4a7c15, epoch, l.stop)
	for _, d := range []*dir{l.ab, l.ba} {
		l.wg.Add(2)
		go func() { defer l.wg.Done(); d.read() }()
		go func() { defer l.wg.Done(); d.deliver() }()
	}
	return l, nil
}

// Set changes the impairment of both directions; packets already past the
// queue keep the delay they were given. It panics if a Dir fails Check.
func (l *Link) Set(atob, btoa Dir) {
	for _, d := range []Dir{atob, btoa} {
		if err := d.Check(); err != nil {
			panic(err)
		}
	}
	l.ab.set(atob)
	l.ba.set(btoa)
}

// Stats returns the counters of both directions.
func (l *Link) Stats() Stats {
	return Stats{AtoB: l.ab.stats(), BtoA: l.ba.stats()}
}

// Close stops forwarding, drops the packets in flight and deletes both
// devices (closing a TUN fd deletes its device). It returns once every
// goroutine of the link has ended.
func (l *Link) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	l.closed = true
	close(l.stop)
	errA := l.fa.Close()
	errB := l.fb.Close()
	l.wg.Wait()
	if errA != nil {
		return errA
	}
	return errB
}
