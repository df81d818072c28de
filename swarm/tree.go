package swarm

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/rtp-project/rtp/client"
	"github.com/rtp-project/rtp/outboard"
	"github.com/rtp-project/rtp/urn"
)

// Verified streaming. When the URL names a blake3 urn and a server offers
// its tree (package outboard), the tree is fetched first and checked
// against the urn; from then on every READ payload is checked group by group
// (16 KiB) as it arrives, and only bytes that match reach the output. A
// group that does not match bans its sender at once (the tree was checked,
// so the evidence is unambiguous) and its blocks go back to the pool.

// maxTree bounds the tree rtpget will hold in memory: that of a 64 GiB
// resource (0.39% of it); bigger ones are verified whole at the end.
const maxTree = 256 << 20

// treeAsks is how many servers are asked for the tree at once: the first to
// answer wins, and each holds a buffer the size of the tree until then.
// Above bigTree one at a time, so that rtpget's memory stays about the tree
// plus its buffers (a 4 GiB file's tree is 16 MiB).
func treeAsks(size int64) int {
	if size > bigTree {
		return 1
	}
	return 2
}

const bigTree = 16 << 20

// errTreeLength means a server's tree is for another length than the one
// the download uses: no proof of a lie (the length may be what is wrong).
var errTreeLength = errors.New("the server's tree is for another length")

// urnBLAKE3 returns the URL's first blake3 urn.
func (d *Download) urnBLAKE3() (urn.Hash, bool) {
	for _, h := range d.cfg.URL.Hashes {
		if h.Kind == urn.BLAKE3 {
			return h, true
		}
	}
	return urn.Hash{}, false
}

// fetchTree asks the servers for the tree of h, in their order in the URL
// and treeAsks(size) at a time, and returns the first that checks out, or
// nil when none does (servers without trees answer unsupported scheme or not
// found: the download then verifies the whole file at the end). A server
// whose tree does not match h is banned.
func (d *Download) fetchTree(ctx context.Context, h urn.Hash, n int64) *outboard.Tree {
	if outboard.Size(n) > maxTree {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type answer struct {
		p   *peer
		t   *outboard.Tree
		err error
	}
	answers := make(chan answer)
	var todo []*peer
	for _, p := range d.peers {
		if !p.isGone() {
			todo = append(todo, p)
		}
	}
	ask := func() {
		p := todo[0]
		todo = todo[1:]
		go func() {
			t, err := d.fetchTreeFrom(ctx, p, h, n)
			select {
			case answers <- answer{p, t, err}:
			case <-ctx.Done():
			}
		}()
	}
	pending := 0
	for ; pending < treeAsks(outboard.Size(n)) && len(todo) > 0; pending++ {
		ask()
	}
	for pending > 0 {
		var a answer
		select {
		case a = <-answers:
		case <-ctx.Done():
			return nil
		}
		pending--
		switch {
		case a.err == nil:
			d.treeFrom = a.p.dial.String()
			d.log.Info("verifying as bytes arrive, with the BLAKE3 tree", "from", a.p.dial, "tree_bytes", outboard.Size(n))
			return a.t
		case errors.Is(a.err, outboard.ErrBadTree):
			a.p.ban("its BLAKE3 tree does not match "+h.String(), func() {
				d.log.Warn("banning server: its BLAKE3 tree does not match the urn", "server", a.p.dial)
			})
		default:
			d.log.Debug("no BLAKE3 tree", "server", a.p.dial, "err", a.err)
		}
		if len(todo) > 0 {
			ask()
			pending++
		}
	}
	d.log.Info("no server offers the BLAKE3 tree; verifying the whole file at the end")
	return nil
}

func (d *Download) fetchTreeFrom(ctx context.Context, p *peer, h urn.Hash, n int64) (*outboard.Tree, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Stall)
	defer cancel()
	s, err := d.dialFn(ctx, p.dial)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	size := outboard.Size(n)
	buf := make([]byte, size)
	// The READs go out right behind the OPEN; they fail with its error.
	open := s.StartOpen(outboard.URI(h))
	const piece = 1 << 20
	for off := int64(0); off < size; {
		type read struct {
			c    *client.Call
			off  int64
			want int64
		}
		var reads []read
		for o := off; o < size && len(reads) < d.cfg.Window; o += piece {
			k := min(piece, size-o)
			reads = append(reads, read{s.StartRead(open.Token, uint64(o), uint64(k), &fill{p: buf[o : o+k]}), o, k})
		}
		if err := open.Wait(ctx); err != nil {
			return nil, err
		}
		next := int64(-1)
		for _, r := range reads {
			if err := r.c.Wait(ctx); err != nil {
				return nil, err
			}
			if next < 0 && r.c.N < r.want {
				next = r.off + r.c.N
			}
		}
		if next == off {
			return nil, errTreeLength // shorter than Size(n)
		}
		if next < 0 {
			next = reads[len(reads)-1].off + reads[len(reads)-1].want
		}
		off = next
		if off >= 8 && binary.LittleEndian.Uint64(buf) != uint64(n) {
			return nil, fmt.Errorf("%w: %d bytes, not %d", errTreeLength, binary.LittleEndian.Uint64(buf), n)
		}
	}
	start := time.Now()
	t, err := outboard.NewTree(buf, h.Sum, n)
	d.log.Debug("tree checked", "server", p.dial, "bytes", size, "took", time.Since(start))
	return t, err
}

// fill receives a READ's payload into p.
type fill struct {
	p []byte
	n int
}

func (f *fill) Write(b []byte) (int, error) {
	if len(b) > len(f.p)-f.n {
		return 0, io.ErrShortBuffer
	}
	f.n += copy(f.p[f.n:], b)
	return len(b), nil
}

// checked passes a block's READ payloads through its outboard.Verifier,
// counts the bytes that match as the peer's verified bytes, and bans the
// peer at the first group that does not match.
type checked struct {
	v      *outboard.Verifier
	p      *peer
	caught bool
}

func (c *checked) Write(b []byte) (int, error) {
	before := c.v.Verified()
	n, err := c.v.Write(b)
	c.p.verified.Add(c.v.Verified() - before)
	if errors.Is(err, outboard.ErrCorrupt) && !c.caught {
		c.caught = true
		c.p.caught(err)
	}
	return n, err
}

// checkKept checks a block kept from an earlier run that did not verify it
// against the tree, reading it back from the output.
func (d *Download) checkKept(i int, buf []byte) bool {
	off, n := d.plan.span(i)
	if _, err := d.out.ReadAt(buf[:n], off); err != nil {
		return false
	}
	return d.tree.Check(off, buf[:n]) == nil
}
