package wan

import (
	"errors"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// A packet in the delay line: its bytes, in a buffer from the pool, and the
// time it leaves, in nanoseconds since the link's epoch.
type packet struct {
	buf *[]byte
	n   int
	at  int64
}

// dir forwards one direction: read() impairs what it reads from in and
// queues it by departure time; deliver() writes each packet to out when
// its time comes.
type dir struct {
	in, out *os.File
	cfg     atomic.Pointer[Dir]
	epoch   time.Time
	mtu     int
	pool    sync.Pool
	stop    <-chan struct{}

	// Owned by read().
	rng  *rand.Rand
	bad  bool  // Gilbert-Elliott state
	busy int64 // when the rate limiter has sent all it holds
	last int64 // departure time of the last packet queued

	mu     sync.Mutex
	ring   []packet // delay line, a ring of len(ring) slots
	head   int
	n      int
	notify chan struct{} // a packet went into an empty delay line

	received, packets, bytes, lossDrops, queueDrops, writeErrors, maxPacket atomic.Int64
}

func newDir(in, out *os.File, cfg Dir, mtu int, seed uint64, epoch time.Time, stop <-chan struct{}) *dir {
	d := &dir{
		in: in, out: out, epoch: epoch, mtu: mtu, stop: stop,
		rng:    rand.New(rand.NewPCG(seed, seed>>1^0x5851f42d4c957f2d)),
		ring:   make([]packet, 1024),
		notify: make(chan struct{}, 1),
	}
	d.pool.New = func() any { b := make([]byte, mtu); return &b }
	d.set(cfg)
	return d
}

func (d *dir) set(c Dir) {
	if c.Rate > 0 && c.Queue == 0 {
		c.Queue = max(int(c.Rate/80), d.mtu) // 100 ms
	}
	d.cfg.Store(&c)
}

func (d *dir) now() int64 { return int64(time.Since(d.epoch)) }

// read reads packets until the device is closed.
func (d *dir) read() {
	scratch := make([]byte, 65536)
	for {
		n, err := d.in.Read(scratch)
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			select {
			case <-d.stop:
				return
			default:
			}
			continue // a TUN read fails only for a packet, not for good
		}
		now := d.now()
		d.received.Add(1)
		if int64(n) > d.maxPacket.Load() {
			d.maxPacket.Store(int64(n))
		}
		c := d.cfg.Load()
		if d.lose(c) {
			d.lossDrops.Add(1)
			continue
		}
		at := now
		if c.Rate > 0 {
			d.busy = max(d.busy, now)
			ser := int64(n) * 8e9 / c.Rate
			if float64(d.busy-now+ser) > float64(c.Queue)*8e9/float64(c.Rate) {
				d.queueDrops.Add(1)
				continue
			}
			d.busy += ser
			at = d.busy
		}
		delay := int64(c.Delay)
		if c.Jitter > 0 {
			delay += d.rng.Int64N(2*int64(c.Jitter)+1) - int64(c.Jitter)
		}
		at = max(at+max(delay, 0), d.last) // never reorder
		d.last = at
		var bp *[]byte
		if n <= d.mtu {
			bp = d.pool.Get().(*[]byte)
		} else {
			b := make([]byte, n) // larger than the MTU: not pooled
			bp = &b
		}
		copy(*bp, scratch[:n])
		d.push(packet{bp, n, at})
	}
}

// lose decides whether the packet just read is lost.
func (d *dir) lose(c *Dir) bool {
	g := c.GE
	if g == nil {
		d.bad = false
		return c.Loss > 0 && d.rng.Float64() < c.Loss
	}
	if d.bad {
		d.bad = d.rng.Float64() >= g.R
	} else {
		d.bad = d.rng.Float64() < g.P
	}
	p := g.LossGood
	if d.bad {
		p = g.LossBad
	}
	return p > 0 && d.rng.Float64() < p
}

func (d *dir) push(p packet) {
	d.mu.Lock()
	if d.n == len(d.ring) {
		r := make([]packet, 2*len(d.ring))
		k := copy(r, d.ring[d.head:])
		copy(r[k:], d.ring[:d.head])
		d.ring, d.head = r, 0
	}
	d.ring[(d.head+d.n)%len(d.ring)] = p
	d.n++
	wake := d.n == 1
	d.mu.Unlock()
	if wake {
		select {
		case d.notify <- struct{}{}:
		default:
		}
	}
}

// slack is how early a packet may leave: waking for each packet of a busy
// link costs more than it gains.
const slack = 20 * time.Microsecond

// deliver writes queued packets to out at their departure time until the
// link stops. It sleeps in nanosleep(2) on its own thread with a timer
// slack of 1 ns: Go's timers wake through epoll_wait, whose timeout is in
// whole milliseconds, so they are late by up to a millisecond.
func (d *dir) deliver() {
	runtime.LockOSThread() // the thread ends with the goroutine: timer slack is per thread
	unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
	for {
		d.mu.Lock()
		if d.n == 0 {
			d.mu.Unlock()
			select {
			case <-d.notify:
				continue
			case <-d.stop:
				return
			}
		}
		p := d.ring[d.head]
		if wait := p.at - d.now(); wait > int64(slack) {
			d.mu.Unlock()
			ts := unix.NsecToTimespec(min(wait, int64(20*time.Millisecond)))
			unix.Nanosleep(&ts, nil)
			select {
			case <-d.stop:
				return
			default:
			}
			continue
		}
		d.ring[d.head] = packet{}
		d.head = (d.head + 1) % len(d.ring)
		d.n--
		d.mu.Unlock()
		_, err := d.out.Write((*p.buf)[:p.n])
		if cap(*p.buf) == d.mtu {
			d.pool.Put(p.buf)
		}
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			d.writeErrors.Add(1)
			continue
		}
		d.packets.Add(1)
		d.bytes.Add(int64(p.n))
	}
}

func (d *dir) stats() DirStats {
	d.mu.Lock()
	inFlight := d.n
	d.mu.Unlock()
	return DirStats{
		Received:    d.received.Load(),
		Packets:     d.packets.Load(),
		Bytes:       d.bytes.Load(),
		LossDrops:   d.lossDrops.Load(),
		QueueDrops:  d.queueDrops.Load(),
		WriteErrors: d.writeErrors.Load(),
		InFlight:    inFlight,
		MaxPacket:   int(d.maxPacket.Load()),
	}
}
