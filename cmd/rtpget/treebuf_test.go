package main

import "testing"

func TestBufClasses(t *testing.T) {
	for _, c := range []struct {
		n   int64
		cap int
	}{{0, 4096}, {1, 4096}, {4096, 4096}, {4097, 8192}, {1 << 20, 1 << 20}, {1<<20 + 1, 2 << 20}, {smallMax, smallMax}} {
		b := getBuf(c.n)
		if int64(len(b)) != c.n || cap(b) != c.cap {
			t.Errorf("getBuf(%d): len %d cap %d, want cap %d", c.n, len(b), cap(b), c.cap)
		}
		putBuf(b)
	}
	// A buffer not from getBuf is not kept (its capacity is no class).
	putBuf(make([]byte, 5000))
	if b := getBuf(5000); cap(b) != 8192 {
		t.Errorf("getBuf(5000) after putting back a 5000-byte slice: cap %d", cap(b))
	}
}
