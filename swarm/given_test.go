package swarm

import (
	"bytes"
	"os"
	"sync/atomic"
	"testing"

	"lukechampine.com/blake3"

	"github.com/rtp-project/rtp/outboard"
)

// treeOf builds the tree of data and checks it against its blake3 urn.
func treeOf(t *testing.T, data []byte, root [32]byte) *outboard.Tree {
	t.Helper()
	buf := make(memBuf, outboard.Size(int64(len(data))))
	enc := outboard.NewEncoder(int64(len(data)), buf)
	enc.Write(data)
	enc.Sum(nil)
	if err := enc.Err(); err != nil {
		t.Fatal(err)
	}
	tr, err := outboard.NewTree(buf, root, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

type memBuf []byte

func (m memBuf) WriteAt(p []byte, off int64) (int, error) { return copy(m[off:], p), nil }

// A tree given in Config is used as fetched: no server is asked for one,
// and every byte is checked against it on arrival.
func TestGivenTree(t *testing.T) {
	dir := t.TempDir()
	data, u := randomFile(t, dir, 5<<20+99)
	ts := serveDir(t, dir, 2)
	var treeReads atomic.Int64
	for _, s := range ts {
		s.treeHook = func(int64, []byte) { treeReads.Add(1) }
	}
	ts[0].hook = func(int64, []byte) bool { return true } // lies in every read
	out := watch(t, data)
	res, err := runTo(t, Config{URL: withServers(u, ts), Tree: treeOf(t, data, u.Hashes[0].Sum)}, out, "")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(out.Name()); !bytes.Equal(got, data) {
		t.Fatal("output differs")
	}
	if res.TreeFrom != "given" || treeReads.Load() != 0 || out.wrong != 0 {
		t.Errorf("tree from %q, %d tree reads at the servers, %d wrong bytes written", res.TreeFrom, treeReads.Load(), out.wrong)
	}
	if !res.Servers[0].Banned {
		t.Errorf("the liar was not banned: %+v", res.Servers[0])
	}
}

// A tree for another length fails the run before any session starts.
func TestGivenTreeOtherLength(t *testing.T) {
	dir := t.TempDir()
	data, u := randomFile(t, dir, 1<<20)
	ts := serveDir(t, dir, 1)
	short := data[:len(data)-1]
	out := watch(t, data)
	_, err := runTo(t, Config{URL: withServers(u, ts), Tree: treeOf(t, short, blake3.Sum256(short))}, out, "")
	if err == nil {
		t.Fatal("a tree for another length was taken")
	}
	if n := ts[0].read.Load(); n != 0 {
		t.Errorf("%d bytes read before the run failed", n)
	}
}

// The length of a resource with a tree comes from the tree's first bytes:
// no READ of the resource itself probes it.
func TestProbeByTree(t *testing.T) {
	dir := t.TempDir()
	data, u := randomFile(t, dir, 5<<20+7)
	ts := serveDir(t, dir, 1)
	var oneByte atomic.Int64
	ts[0].hook = func(off int64, p []byte) bool {
		if len(p) == 1 {
			oneByte.Add(1)
		}
		return false
	}
	u = withServers(u, ts)
	u.Length = -1
	got, res, err := run(t, Config{URL: u}, "")
	if err != nil || !bytes.Equal(got, data) || res.Length != int64(len(data)) {
		t.Fatalf("length %d, %v", res.Length, err)
	}
	if n := oneByte.Load(); n != 0 {
		t.Errorf("%d one-byte READs of the resource; want the length from the tree", n)
	}

	// Without a tree, ProbeLength still finds it.
	ts[0].noTree = true
	got, res, err = run(t, Config{URL: u}, "")
	if err != nil || !bytes.Equal(got, data) || res.Length != int64(len(data)) || oneByte.Load() == 0 {
		t.Fatalf("without a tree: length %d, %v, %d one-byte READs", res.Length, err, oneByte.Load())
	}
}
