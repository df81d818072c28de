package swarm

import (
	"bytes"
	"context"
	"os"
	"sync"
	"testing"
	"time"
)

// heldFrom reports whether d holds, unchecked, a block from peer i.
func (d *Download) heldFrom(i int) bool {
	d.earlyMu.Lock()
	defer d.earlyMu.Unlock()
	for _, h := range d.held {
		if h.p.idx == i {
			return true
		}
	}
	return false
}

// Blocks fetched while the tree is on its way are held in memory and
// checked when it comes: a liar's block among them bans it, and not one of
// its bytes reaches the file. The servers send their trees only once the
// download holds a whole block from the liar.
func TestEarlyBlocksCheckedWhenTreeComes(t *testing.T) {
	dir := t.TempDir()
	data, u := randomFile(t, dir, 12<<20+333)
	ts := serveDir(t, dir, 2)
	liar := ts[0]
	liar.hook = func(int64, []byte) bool { return true } // every chunk it reads
	d := New(Config{URL: withServers(u, ts)})
	release := make(chan struct{})
	var once sync.Once
	go func() {
		defer once.Do(func() { close(release) })
		for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
			if d.heldFrom(0) {
				return
			}
		}
		t.Error("no block from the liar was held before the tree came")
	}()
	for _, s := range ts {
		s.treeHook = func(int64, []byte) { <-release }
	}
	out := watch(t, data)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := d.Run(ctx, out, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(out.Name()); !bytes.Equal(got, data) {
		t.Fatal("output differs")
	}
	if out.wrong != 0 {
		t.Errorf("%d wrong bytes reached the file", out.wrong)
	}
	if res.TreeFrom == "" || !res.Servers[0].Banned || res.Servers[1].Banned || res.Repaired != 0 {
		t.Errorf("tree from %q, %d blocks repaired, servers %+v", res.TreeFrom, res.Repaired, res.Servers)
	}
	// Endgame copies count too, so the honest server may have more.
	if l, h := res.Servers[0].Verified, res.Servers[1].Verified; l != 0 || h < int64(len(data)) {
		t.Errorf("verified against the tree: %d bytes from the liar, %d from the honest server, of %d", l, h, len(data))
	}
}

// A resumed download fetches nothing before the tree: the tree decides
// which of the kept blocks to trust.
func TestEarlyNotWhenResumed(t *testing.T) {
	dir := t.TempDir()
	data, u := randomFile(t, dir, 6<<20)
	ts := serveDir(t, dir, 1)
	state := dir + "/out.state"
	out := watch(t, data)
	if err := saveState(state, withServers(u, ts), int64(len(data)), 1<<20, make([]bool, 6), ""); err != nil {
		t.Fatal(err)
	}
	d := New(Config{URL: withServers(u, ts)})
	ts[0].treeHook = func(int64, []byte) {
		if ts[0].read.Load() != 0 {
			t.Error("blocks were fetched before the tree of a resumed download")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := d.Run(ctx, out, state, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(out.Name()); !bytes.Equal(got, data) {
		t.Fatal("output differs")
	}
}
