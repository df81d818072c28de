package outboard

import (
	"bytes"
	"testing"

	"lukechampine.com/blake3"
)

// FuzzTree: a tree and bytes that come from an untrusted server. A tree is
// accepted only if it is the true tree of the root, and bytes only if they
// are the true bytes; nothing panics.
func FuzzTree(f *testing.F) {
	f.Add(uint32(5*GroupSize+7), uint32(0), byte(1), uint32(GroupSize), uint32(GroupSize), byte(0))
	f.Add(uint32(3*GroupSize), uint32(8), byte(0x80), uint32(0), uint32(3*GroupSize), byte(1))
	f.Add(uint32(1), uint32(0), byte(0), uint32(0), uint32(1), byte(0))
	f.Fuzz(func(t *testing.T, size uint32, treeAt uint32, treeFlip byte, off, n uint32, dataFlip byte) {
		size %= 40*GroupSize + 1
		data := randomBytes(int(size), uint64(size))
		tree, root := encode(t, data)
		bad := bytes.Clone(tree)
		if len(bad) > 0 {
			bad[int(treeAt)%len(bad)] ^= treeFlip
		}
		tr, err := NewTree(bad, root, int64(len(data)))
		if err == nil && !bytes.Equal(bad, tree) {
			t.Fatalf("a tree with byte %d flipped by %#x was accepted", int(treeAt)%len(bad), treeFlip)
		}
		if err != nil {
			if tr, err = NewTree(tree, root, int64(len(data))); err != nil {
				t.Fatalf("the true tree was refused: %v", err)
			}
		}
		// A group-aligned span, as the swarm checks them.
		start := int64(off) % int64(len(data)+1) / GroupSize * GroupSize
		end := min(start+int64(n), int64(len(data)))
		if end < int64(len(data)) {
			end -= (end - start) % GroupSize
		}
		p := bytes.Clone(data[start:end])
		if len(p) > 0 {
			p[int(n)%len(p)] ^= dataFlip
		}
		err = tr.Check(start, p)
		if same := bytes.Equal(p, data[start:end]); same != (err == nil) {
			t.Fatalf("Check(%d, %d bytes) = %v; bytes true: %v", start, len(p), err, same)
		}
	})
}

// FuzzEncoder: the length announced to an Encoder and the bytes written to
// it disagree, as when a file changes while it is hashed. Nothing panics;
// Err is nil exactly when they agree, and then the sum and the tree are
// BLAKE3's.
func FuzzEncoder(f *testing.F) {
	f.Add(uint32(5*GroupSize+7), uint32(3*GroupSize), uint16(5000))
	f.Add(uint32(2*GroupSize), uint32(2*GroupSize), uint16(0))
	f.Add(uint32(3*GroupSize), uint32(4*GroupSize+1), uint16(GroupSize))
	f.Add(uint32(17*GroupSize), uint32(16*GroupSize), uint16(1))
	f.Fuzz(func(t *testing.T, announced, written uint32, piece uint16) {
		announced %= 40*GroupSize + 1
		written %= 40*GroupSize + 1
		data := randomBytes(int(written), uint64(written))
		tree := make(bufferAt, Size(int64(announced)))
		e := NewEncoder(int64(announced), tree)
		k := max(int(piece), 1)
		if piece == 0 {
			k = len(data) + 1 // one Write
		}
		for p := data; len(p) > 0; {
			n := min(len(p), k)
			e.Write(p[:n])
			p = p[n:]
		}
		var root [32]byte
		copy(root[:], e.Sum(nil))
		if (e.Err() == nil) != (announced == written) {
			t.Fatalf("%d bytes for %d announced: Err = %v", written, announced, e.Err())
		}
		if e.Err() != nil {
			if root != ([32]byte{}) {
				t.Fatalf("Sum after a wrong length = %x, want zeros", root)
			}
			return
		}
		if root != blake3.Sum256(data) {
			t.Fatalf("%d bytes: root differs from blake3", written)
		}
		if _, err := NewTree(tree, root, int64(len(data))); err != nil {
			t.Fatalf("%d bytes: the tree written is refused: %v", written, err)
		}
	})
}
