package swarm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"lukechampine.com/blake3"

	"github.com/rtp-project/rtp/client"
	"github.com/rtp-project/rtp/urn"
	"github.com/rtp-project/rtp/wire"
)

// repair runs when the finished file does not match. It fetches every block
// again from a server other than the one whose bytes are in the file and
// compares. Where copies differ it asks a third server when there is one,
// then tries the candidate files (by majority, then without each suspect in
// turn) until one hashes right, and bans the servers whose copies lost.
func (d *Download) repair(ctx context.Context, first urn.Sums) error {
	d.log.Warn("hash mismatch; fetching every block again from another server to find the bad one")
	live := d.livePeers()
	if len(live) < 2 && !d.anyKept() {
		return fmt.Errorf("%w, and only %d server is left to compare with", ErrMismatch, len(live))
	}
	versions := make(map[int]map[int][32]byte) // block -> peer -> blake3 of its copy
	side, err := newSideFiles(d)
	if err != nil {
		return err
	}
	defer side.remove()
	defer d.closeRepairSessions()

	mine := make([][32]byte, len(d.plan.blocks))
	buf := make([]byte, d.cfg.BlockSize)
	for i := range d.plan.blocks {
		off, n := d.plan.span(i)
		if _, err := d.out.ReadAt(buf[:n], off); err != nil {
			return err
		}
		mine[i] = blake3.Sum256(buf[:n])
	}
	// Round one: one other server per block; round two: a third opinion
	// where copies differ and there is a third server.
	var differ []int
	asked := make(map[int][]int) // block -> peers asked
	failed := make(map[int]bool) // peers whose repair session failed
	not := func(i int) []int { return append([]int{d.plan.blocks[i].by}, asked[i]...) }
	all := make([]int, len(d.plan.blocks))
	for i := range all {
		all[i] = i
	}
	err = d.refetch(ctx, live, failed, all, not, func(q *peer, i int, data []byte) error {
		asked[i] = append(asked[i], q.idx)
		sum := blake3.Sum256(data)
		if sum == mine[i] {
			return nil
		}
		differ = append(differ, i)
		if err := side.put(q.idx, i, data); err != nil {
			return err
		}
		by := d.plan.blocks[i].by
		off, n := d.plan.span(i)
		if _, err := d.out.ReadAt(buf[:n], off); err != nil {
			return err
		}
		if err := side.put(by, i, buf[:n]); err != nil {
			return err
		}
		versions[i] = map[int][32]byte{by: mine[i], q.idx: sum}
		return nil
	})
	if err != nil {
		return err
	}
	if len(differ) == 0 {
		return fmt.Errorf("%w: every block re-fetched from another server matched, so the servers agree on bytes that do not hash to the URL", ErrMismatch)
	}
	slices.Sort(differ)
	err = d.refetch(ctx, live, failed, differ, not, func(q *peer, i int, data []byte) error {
		asked[i] = append(asked[i], q.idx)
		versions[i][q.idx] = blake3.Sum256(data)
		return side.put(q.idx, i, data)
	})
	if err != nil {
		return err
	}
	// Candidates: majority for every block, then "every block but from
	// suspect s" for each suspect.
	suspects := map[int]bool{}
	for _, i := range differ {
		for p := range versions[i] {
			suspects[p] = true
		}
	}
	tries := []int{noPeer}
	for p := range suspects {
		tries = append(tries, p)
	}
	slices.Sort(tries[1:])
	for _, suspect := range tries {
		if err := ctx.Err(); err != nil {
			return err
		}
		choice := make(map[int]int) // block -> peer whose copy to use
		for _, i := range differ {
			p, ok := pick(versions[i], suspect)
			if !ok {
				break
			}
			choice[i] = p
		}
		if len(choice) != len(differ) {
			continue
		}
		for i, p := range choice {
			data, err := side.get(p, i)
			if err != nil {
				return err
			}
			off, _ := d.plan.span(i)
			if _, err := d.out.WriteAt(data, off); err != nil {
				return err
			}
		}
		sums, err := urn.HashReader(&prefixReader{d: d}, nil, d.kinds()...)
		if err != nil {
			return err
		}
		if d.verify(sums) != nil {
			continue
		}
		// Ban every server whose copy of a differing block lost.
		for _, i := range differ {
			winner := versions[i][choice[i]]
			for p, sum := range versions[i] {
				if sum != winner && p >= 0 {
					d.peers[p].drop(StateBanned, fmt.Sprintf("sent bytes that do not match at block %d", i))
				}
			}
			d.plan.blocks[i].by = choice[i]
		}
		d.repaired = len(differ)
		d.log.Warn("repaired", "blocks", len(differ), "banned", d.bannedNames())
		return nil
	}
	var names []string
	for p := range suspects {
		if p >= 0 {
			names = append(names, d.peers[p].dial.String())
		} else {
			names = append(names, "an earlier run")
		}
	}
	slices.Sort(names)
	return fmt.Errorf("%w: %d blocks differ between %s and no combination hashes right", ErrMismatch, len(differ), strings.Join(names, ", "))
}

// pick returns the peer whose copy the most peers other than suspect agree
// on, ties going to the lowest peer index.
func pick(v map[int][32]byte, suspect int) (int, bool) {
	count := map[[32]byte]int{}
	for p, s := range v {
		if p != suspect {
			count[s]++
		}
	}
	best, bestN := noPeer, 0
	keys := make([]int, 0, len(v))
	for p := range v {
		keys = append(keys, p)
	}
	slices.Sort(keys)
	for _, p := range keys {
		if p == suspect {
			continue
		}
		if n := count[v[p]]; n > bestN {
			best, bestN = p, n
		}
	}
	return best, best != noPeer
}

func (d *Download) livePeers() []*peer {
	var out []*peer
	for _, p := range d.peers {
		p.mu.Lock()
		ok := !p.gone
		p.mu.Unlock()
		if ok {
			out = append(out, p)
		}
	}
	return out
}

func (d *Download) anyKept() bool {
	for i := range d.plan.blocks {
		if d.plan.blocks[i].by == prevRun {
			return true
		}
	}
	return false
}

// pickOther returns a live peer not in not, spreading blocks over peers.
func (d *Download) pickOther(live []*peer, block int, not []int) *peer {
	for k := range live {
		p := live[(block+k)%len(live)]
		if !slices.Contains(not, p.idx) {
			return p
		}
	}
	return nil
}

func (d *Download) bannedNames() []string {
	var out []string
	for _, p := range d.peers {
		p.mu.Lock()
		if p.state == StateBanned {
			out = append(out, p.dial.String())
		}
		p.mu.Unlock()
	}
	return out
}

// sideFiles keeps each server's copy of disputed blocks in a sparse file of
// its own beside the output, so a disputed block costs disk, not memory.
type sideFiles struct {
	d     *Download
	dir   string
	files map[int]*os.File
}

func newSideFiles(d *Download) (*sideFiles, error) {
	dir := os.TempDir()
	if f, ok := d.out.(*os.File); ok {
		dir = filepath.Dir(f.Name())
	}
	return &sideFiles{d: d, dir: dir, files: map[int]*os.File{}}, nil
}

func (s *sideFiles) file(p int) (*os.File, error) {
	if f := s.files[p]; f != nil {
		return f, nil
	}
	f, err := os.CreateTemp(s.dir, ".rtpget-repair-*")
	if err != nil {
		return nil, err
	}
	s.files[p] = f
	return f, nil
}

func (s *sideFiles) put(p, i int, data []byte) error {
	f, err := s.file(p)
	if err != nil {
		return err
	}
	off, _ := s.d.plan.span(i)
	_, err = f.WriteAt(data, off)
	return err
}

func (s *sideFiles) get(p, i int) ([]byte, error) {
	f := s.files[p]
	if f == nil {
		return nil, errors.New("repair: no copy")
	}
	off, n := s.d.plan.span(i)
	b := make([]byte, n)
	_, err := f.ReadAt(b, off)
	return b, err
}

func (s *sideFiles) remove() {
	for _, f := range s.files {
		f.Close()
		os.Remove(f.Name())
	}
}

type repairSession struct {
	sess *client.Session
	tok  wire.Token
}

// sessionFor returns the repair session to p, opening it on first use
// within the stall timeout.
func (d *Download) sessionFor(ctx context.Context, p *peer) (*repairSession, error) {
	d.repairMu.Lock()
	s := d.repairSessions[p.idx]
	d.repairMu.Unlock()
	if s != nil {
		select {
		case <-s.sess.Done():
		default:
			return s, nil
		}
	}
	sess, tok, err := d.connect(ctx, p)
	if err != nil {
		return nil, err
	}
	s = &repairSession{sess, tok}
	d.repairMu.Lock()
	if d.repairSessions == nil {
		d.repairSessions = map[int]*repairSession{}
	}
	d.repairSessions[p.idx] = s
	d.repairMu.Unlock()
	return s, nil
}

func (d *Download) closeRepairSessions() {
	d.repairMu.Lock()
	defer d.repairMu.Unlock()
	for k, s := range d.repairSessions {
		s.sess.Close()
		delete(d.repairSessions, k)
	}
}
