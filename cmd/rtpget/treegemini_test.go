package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lukechampine.com/blake3"

	"github.com/rtp-project/rtp/collection"
	"github.com/rtp-project/rtp/internal/rtpdtest"
	"github.com/rtp-project/rtp/outboard"
	"github.com/rtp-project/rtp/rtpurl"
)

// geminiTree is a real rtpd serving a srcTree's folder, with its Gemini
// face and metrics on loopback, and the tree's gemini+rtp:// name.
type geminiTree struct {
	src     *srcTree
	dials   int // --listen dials: the servers of the tree's URL
	srv     *rtpdtest.Server
	name    string // gemini+rtp://127.0.0.1:PORT/tree/
	metrics string // http://127.0.0.1:PORT/metrics
}

func serveGeminiTree(t *testing.T, src *srcTree, protos ...string) *geminiTree {
	t.Helper()
	t.Setenv("XDG_CONFIG_HOME", t.TempDir()) // rtpget's known_hosts for the Gemini face
	args := []string{"--index", filepath.Join(t.TempDir(), "index.db"),
		"--gemini", "tcp!127.0.0.1!0", "--metrics", "tcp!127.0.0.1!0", "--rescan", "200ms"}
	for _, p := range protos {
		args = append(args, "--listen", p+"!127.0.0.1!0")
	}
	s := rtpdtest.Start(t, src.served, args...)
	gd, err := rtpurl.ParseDial(s.Gemini[0])
	if err != nil {
		t.Fatal(err)
	}
	md, err := rtpurl.ParseDial(s.Metrics[0])
	if err != nil {
		t.Fatal(err)
	}
	return &geminiTree{src: src, srv: s, dials: len(protos),
		name:    fmt.Sprintf("gemini+rtp://%s/tree/", gd.Address()),
		metrics: "http://" + md.Address() + "/metrics"}
}

// wantManifest is the manifest rtpd must give for the source tree as it
// is now: every file with its hashes and executable bit, nothing else.
func (g *geminiTree) wantManifest(t *testing.T) []byte {
	t.Helper()
	var es []collection.Entry
	for p, d := range g.src.files {
		es = append(es, entryOf(p, d, g.src.exec[p]))
	}
	b, err := collection.Encode(es)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// waitIndexed resolves the Gemini name until it names exactly the tree as
// it is now: the manifest's hashes and length, with the collection type.
// Until rtpd has hashed every change, the name answers 40 or the URL of an
// older tree (a file added but not yet indexed is not listed). It returns
// the manifest's length.
func (g *geminiTree) waitIndexed(t *testing.T) int64 {
	t.Helper()
	want := g.wantManifest(t)
	b3 := fmt.Sprintf("%x", blake3.Sum256(want))
	start := time.Now()
	var last string
	for deadline := start.Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s still resolves to %q 60 s after the change; want the manifest %s (%d bytes)\n%s", g.name, last, b3, len(want), g.srv.Log())
		}
		stdout, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, "--resolve", g.name)
		switch {
		case code == 1 && (strings.Contains(stderr, "status 40") || strings.Contains(stderr, "status 51")):
			last = strings.TrimSpace(stderr) // being hashed, or not indexed at all yet
			continue
		case code != 0:
			t.Fatalf("rtpget --resolve %s: exit %d: %s", g.name, code, stderr)
		}
		last = strings.TrimSpace(stdout)
		u, err := rtpurl.Parse(last)
		if err != nil || !collection.IsCollection(u.Types) || u.Name != "tree" {
			t.Fatalf("%s resolves to %q (%v), want a collection named tree", g.name, last, err)
		}
		if u.Hashes[0].Hex() == b3 {
			if u.Length != int64(len(want)) {
				t.Fatalf("%s: l=%d, the manifest has %d bytes", last, u.Length, len(want))
			}
			t.Logf("%s names the tree of %d files after %v", g.name, len(g.src.files), time.Since(start).Round(time.Millisecond))
			return u.Length
		}
	}
}

// sent is what rtpd's /metrics says it has sent in READ payloads: file
// bytes (a manifest is a file here) and BLAKE3 outboard bytes. It is read
// once no READ is in flight, so every payload written is counted.
func (g *geminiTree) sent(t *testing.T) (blob, tree int64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		m := rtpdtest.Scrape(t, g.metrics)
		if m["rtpd_reads_in_flight"] == 0 {
			return int64(m[`rtpd_read_bytes_total{resource="blob"}`]), int64(m[`rtpd_read_bytes_total{resource="tree"}`])
		}
		if time.Now().After(deadline) {
			t.Fatalf("rtpd still has %v READs in flight 10 s after rtpget exited", m["rtpd_reads_in_flight"])
		}
	}
}

// randomBytes returns n random bytes from r: every content in the test
// is distinct, so none is copied from another path instead of fetched.
func randomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// checkSent compares what rtpd sent during one step with what the step
// needs: want file bytes (the files fetched and the manifest) and wantTree
// outboard bytes (the BLAKE3 trees of the big files fetched).
//
// From one server dial that is exact: a lane sends each file's READs once,
// and a swarm never copies a block from the server already sending it.
// From two dials (tcp and quic of the same rtpd) a swarm races them on
// purpose, so more may cross, within a bound that each block of a swarm's
// resource crosses at most twice: an endgame or hedge copy is made only of
// a block no copy is in flight for (swarm/plan.go), and a tree is asked of
// at most two servers at once, the first answer winning (swarm/tree.go).
// So file bytes are within want + swarmed, swarmed being the bytes of the
// resources fetched by a swarm (the manifest, files over 4 MiB), and tree
// bytes within 2 wantTree. Lanes (files up to 4 MiB) never copy. Both
// hold while no session fails: a failed one's blocks and files are fetched
// again, which on loopback does not happen.
func (g *geminiTree) checkSent(t *testing.T, step string, blob, tree, want, swarmed, wantTree int64) {
	t.Helper()
	t.Logf("%s: rtpd sent %d file bytes (want %d, %d more allowed from two dials) and %d outboard bytes (want %d)", step, blob, want, swarmed, tree, wantTree)
	if g.dials == 1 {
		if blob != want || tree != wantTree {
			t.Errorf("%s: rtpd sent %d file bytes and %d outboard bytes, want exactly %d and %d", step, blob, tree, want, wantTree)
		}
		return
	}
	if blob < want || blob > want+swarmed || tree < wantTree || tree > 2*wantTree {
		t.Errorf("%s: rtpd sent %d file bytes and %d outboard bytes, want %d to %d and %d to %d", step, blob, tree, want, want+swarmed, wantTree, 2*wantTree)
	}
}

// checkFetched compares rtpget's fetched_bytes with the bytes of the
// contents it had to fetch: exact from one dial; from two, endgame copies
// of the big files' blocks count too, whole or cut short when the swarm
// ends (so rtpget may count more than rtpd, which counts whole payloads).
func (g *geminiTree) checkFetched(t *testing.T, step string, got, want, bigs int64) {
	t.Helper()
	if g.dials == 1 && got != want || got < want || got > want+bigs {
		t.Errorf("%s: rtpget says it fetched %d bytes, want %d (plus up to %d of endgame copies from two dials)", step, got, want, bigs)
	}
}

// TestTreeGeminiUpdate is the acceptance "change 10 files and add 5 at the
// source, fetch via the Gemini name again: only those files' bytes cross
// the wire (rtpd metrics), the result is exact", with a real rtpd whose
// index follows the folder, and rtpget fetching the folder's gemini+rtp://
// name four times into the same target: from one server dial, where the
// bytes sent are exact, and from two, where swarms may copy blocks.
func TestTreeGeminiUpdate(t *testing.T) {
	t.Run("tcp", func(t *testing.T) { treeGeminiUpdate(t, "tcp") })
	t.Run("tcp+quic", func(t *testing.T) { treeGeminiUpdate(t, "tcp", "quic") })
}

func treeGeminiUpdate(t *testing.T, protos ...string) {
	r := rand.New(rand.NewPCG(15, 10))
	src := newSrcTree(t)
	var small []string
	for i := range 58 {
		p := fmt.Sprintf("shards/%c/s%02d.bin", 'a'+i%4, i)
		if i%5 == 0 {
			p = fmt.Sprintf("shards/%c/deep/er/s%02d.bin", 'a'+i%4, i)
		}
		src.put(t, p, randomBytes(r, 1+r.IntN(80<<10)))
		small = append(small, p)
	}
	src.put(t, "run.sh", []byte("#!/bin/sh\necho hi\n"))
	src.exec["run.sh"] = true
	os.Chmod(filepath.Join(src.served, "tree", "run.sh"), 0o755)
	// Two past the lanes' limit: each is a swarm with its BLAKE3 tree.
	bigs := []string{"weights/big-1.bin", "weights/big-2.bin"}
	src.put(t, bigs[0], randomBytes(r, smallMax+1<<20+123))
	src.put(t, bigs[1], randomBytes(r, smallMax+2<<20+7))

	g := serveGeminiTree(t, src, protos...)
	m1 := g.waitIndexed(t)
	out := t.TempDir()
	target := filepath.Join(out, "tree")
	blob0, tree0 := g.sent(t)
	s, stderr, code := getTree(t, g.name, "-C", out)
	if code != 0 {
		t.Fatalf("first fetch of %s: exit %d: %s", g.name, code, stderr)
	}
	sameTree(t, target, src.files, src.exec)
	var total int64
	for _, d := range src.files {
		total += int64(len(d))
	}
	big1, big2 := int64(len(src.files[bigs[0]])), int64(len(src.files[bigs[1]]))
	blob1, tree1 := g.sent(t)
	g.checkSent(t, "first fetch", blob1-blob0, tree1-tree0, total+m1, m1+big1+big2, outboard.Size(big1)+outboard.Size(big2))
	if s.Files != len(src.files) || s.Fetched != len(src.files) || s.Placed != len(src.files) || s.Present != 0 || s.Failed != 0 {
		t.Errorf("first fetch summary: %+v", s)
	}
	g.checkFetched(t, "first fetch", s.FetchedBytes, total, big1+big2)

	// Change 10 files (one big; sizes up and down, and one of the same
	// size), add 5 (one in a new folder), in place as an editor would.
	changed := map[string]bool{}
	var changedBytes, changedBig int64
	change := func(p string, data []byte) {
		src.put(t, p, data)
		changed[p] = true
		changedBytes += int64(len(data))
		if len(data) > smallMax {
			changedBig += int64(len(data))
		}
	}
	change(bigs[0], randomBytes(r, smallMax+3<<20+1))
	for i, p := range small[:9] {
		n := []int{len(src.files[p]), 10, 300 << 10, 1, 64 << 10, 1 << 20, 4096, 12345, 77 << 10}[i]
		change(p, randomBytes(r, n))
	}
	for i, p := range []string{"shards/a/n1.bin", "shards/b/deep/er/n2.bin", "n3.bin", "weights/n4.json", "extra/new/n5.bin"} {
		change(p, randomBytes(r, []int{100, 20 << 10, 1 << 10, 200, 50 << 10}[i]))
	}
	if len(changed) != 15 {
		t.Fatalf("%d files changed or added, want 15", len(changed))
	}
	m2 := g.waitIndexed(t)
	s, stderr, code = getTree(t, g.name, "-C", out)
	if code != 0 {
		t.Fatalf("second fetch: exit %d: %s", code, stderr)
	}
	blob2, tree2 := g.sent(t)
	t.Logf("second fetch: the 15 files have %d bytes, the new manifest %d; rtpget fetched %d files, %d bytes, %d present",
		changedBytes, m2, s.Fetched, s.FetchedBytes, s.Present)
	g.checkSent(t, "second fetch", blob2-blob1, tree2-tree1, changedBytes+m2, m2+changedBig, outboard.Size(changedBig))
	if s.Fetched != 15 || s.Present != len(src.files)-15 || s.Placed != 15 || s.Deleted != 0 || s.Failed != 0 {
		t.Errorf("second fetch summary: %+v; want 15 fetched and %d present", s, len(src.files)-15)
	}
	g.checkFetched(t, "second fetch", s.FetchedBytes, changedBytes, changedBig)
	sameTree(t, target, src.files, src.exec)

	// Remove a file at the source: it stays in the target without
	// --delete, and goes with it. Only the manifests cross the wire.
	gone := small[20]
	kept := src.files[gone]
	delete(src.files, gone)
	if err := os.Remove(filepath.Join(src.served, "tree", gone)); err != nil {
		t.Fatal(err)
	}
	m3 := g.waitIndexed(t)
	s, stderr, code = getTree(t, g.name, "-C", out)
	if code != 0 || s.Fetched != 0 || s.FetchedBytes != 0 || s.Present != len(src.files) || s.Deleted != 0 {
		t.Fatalf("after a removal, without --delete: exit %d, %+v, %s", code, s, stderr)
	}
	withGone := map[string][]byte{gone: kept}
	for p, d := range src.files {
		withGone[p] = d
	}
	sameTree(t, target, withGone, src.exec)
	s, stderr, code = getTree(t, g.name, "-C", out, "--delete")
	if code != 0 || s.Fetched != 0 || s.FetchedBytes != 0 || s.Deleted != 1 {
		t.Fatalf("--delete: exit %d, %+v, %s", code, s, stderr)
	}
	sameTree(t, target, src.files, src.exec)
	blob3, tree3 := g.sent(t)
	g.checkSent(t, "two fetches of the tree less one file", blob3-blob2, tree3-tree2, 2*m3, 2*m3, 0)
}
