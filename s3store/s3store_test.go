package s3store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	mrand "math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"lukechampine.com/blake3"

	"github.com/rtp-project/rtp/internal/s3test"
	"github.com/rtp-project/rtp/outboard"
	"github.com/rtp-project/rtp/s3store"
	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/urn"
)

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// openStore opens the store of s3://bucket/prefix on gw with an index of
// the test's own (or index, when given).
func openStore(t *testing.T, gw *s3test.Server, url, index string, cfg s3store.Config, opts store.Options) *s3store.Store {
	t.Helper()
	loc, err := s3store.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Endpoint = gw.Endpoint
	cfg.AccessKeyID, cfg.SecretAccessKey = gw.AccessKey, gw.SecretKey
	if index == "" {
		index = filepath.Join(t.TempDir(), "index.db")
	}
	opts.Index = index
	s, err := s3store.Open(loc, cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func scan(t *testing.T, s *s3store.Store) store.ScanStats {
	t.Helper()
	st, err := s.Scan(context.Background())
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	return st
}

func hashes(data []byte) (sha, b3 urn.Hash) {
	return urn.New(urn.SHA256, sha256.Sum256(data)), urn.New(urn.BLAKE3, blake3.Sum256(data))
}

// readRange reads n bytes at off through ReadRange.
func readRange(b store.Blob, off, n int64) ([]byte, error) {
	var got []byte
	err := b.(store.RangeReader).ReadRange(context.Background(), off, n, func(r io.Reader) error {
		var err error
		got, err = io.ReadAll(r)
		return err
	})
	return got, err
}

// Every object below the prefix, nested keys and keys with spaces and
// letters beyond ASCII too, is indexed once and served by both hashes,
// whole and by ranges, with its tree; what lies outside the prefix and
// folder markers are not served.
func TestIndexAndRead(t *testing.T) {
	gw := s3test.Start(t)
	gw.MakeBucket(t, "blobs")
	objects := map[string][]byte{
		"empty":                  {},
		"one-group":              []byte("hello, bucket\n"),
		"a/b/c/nested.bin":       randBytes(3<<20 + 12345),
		"with space/ünï cödé ✓":  randBytes(70000),
		"big/tree-in-a-file.bin": randBytes(17<<20 + 1), // its tree is past the index's inline limit
	}
	for k, v := range objects {
		gw.Put(t, "blobs", "pre/"+k, v)
	}
	gw.Put(t, "blobs", "pre/folder/", nil)
	gw.Put(t, "blobs", "other/outside", []byte("not below the prefix"))
	gw.Put(t, "blobs", "prefix-sibling", []byte("not below the prefix either"))

	s := openStore(t, gw, "s3://blobs/pre", "", s3store.Config{ChunkSize: 1 << 20}, store.Options{})
	st := scan(t, s)
	if st.Files != len(objects) || st.Hashed != len(objects) {
		t.Fatalf("first pass: %+v; want %d objects hashed", st, len(objects))
	}
	files, _, err := s.Count(context.Background())
	if err != nil || files != len(objects) {
		t.Fatalf("Count = %d, %v; want %d", files, err, len(objects))
	}
	rng := mrand.New(mrand.NewPCG(1, 2))
	for k, data := range objects {
		e, err := s.Lookup(context.Background(), k)
		if err != nil || e.Size != int64(len(data)) {
			t.Errorf("Lookup(%q) = %+v, %v", k, e, err)
		}
		sha, b3 := hashes(data)
		for _, h := range []urn.Hash{sha, b3} {
			b, err := s.Open(context.Background(), h)
			if err != nil {
				t.Fatalf("%s: open %s: %v", k, h, err)
			}
			if b.Size() != int64(len(data)) {
				t.Fatalf("%s: size %d, want %d", k, b.Size(), len(data))
			}
			whole := make([]byte, len(data))
			if n, err := b.ReadAt(whole, 0); n != len(data) || (err != nil && err != io.EOF) || !bytes.Equal(whole, data) {
				t.Fatalf("%s: ReadAt whole: %d, %v, equal %v", k, n, err, bytes.Equal(whole, data))
			}
			for range 20 {
				if len(data) == 0 {
					break
				}
				off := rng.Int64N(int64(len(data)))
				n := 1 + rng.Int64N(min(int64(len(data))-off, 3<<20))
				got, err := readRange(b, off, n)
				if err != nil || !bytes.Equal(got, data[off:off+n]) {
					t.Fatalf("%s: ReadRange(%d, %d): %v, equal %v", k, off, n, err, bytes.Equal(got, data[off:off+n]))
				}
			}
			b.Close()
		}
		tb, err := s.OpenTree(context.Background(), b3)
		if err != nil {
			t.Fatalf("%s: OpenTree: %v", k, err)
		}
		tree := make([]byte, tb.Size())
		if _, err := tb.ReadAt(tree, 0); err != nil && err != io.EOF {
			t.Fatal(err)
		}
		tb.Close()
		tr, err := outboard.NewTree(tree, b3.Sum, int64(len(data)))
		if err != nil {
			t.Fatalf("%s: the tree served does not match the hash: %v", k, err)
		}
		if err := tr.Check(0, data); err != nil {
			t.Fatalf("%s: the bytes do not match the tree served: %v", k, err)
		}
	}
	for _, k := range []string{"folder/", "folder", "../other/outside", "other/outside", "prefix-sibling"} {
		if _, err := s.Lookup(context.Background(), k); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Lookup(%q) = %v; want not found", k, err)
		}
	}
	for _, data := range [][]byte{[]byte("not below the prefix"), []byte("not below the prefix either")} {
		sha, _ := hashes(data)
		if _, err := s.Open(context.Background(), sha); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("an object outside the prefix: Open = %v; want not found", err)
		}
	}
	var under []string
	s.ListUnder(context.Background(), "a/b", func(e store.Entry) error { under = append(under, e.Path); return nil })
	if len(under) != 1 || under[0] != "a/b/c/nested.bin" {
		t.Errorf("ListUnder(a/b) = %q", under)
	}
	if err := s.Health(context.Background()); err != nil {
		t.Errorf("Health: %v", err)
	}
}

// A pass hashes only what is new or whose ETag or size changed, drops
// what is gone, and a reopened index hashes nothing; an index of another
// prefix is refused.
func TestRescanHashesOnlyChanges(t *testing.T) {
	gw := s3test.Start(t)
	gw.MakeBucket(t, "blobs")
	for _, k := range []string{"a", "b", "c"} {
		gw.Put(t, "blobs", k, randBytes(100000))
	}
	index := filepath.Join(t.TempDir(), "index.db")
	s := openStore(t, gw, "s3://blobs", index, s3store.Config{}, store.Options{})
	if st := scan(t, s); st.Hashed != 3 {
		t.Fatalf("first pass hashed %d, want 3", st.Hashed)
	}
	if st := scan(t, s); st.Hashed != 0 || st.Files != 3 {
		t.Fatalf("second pass: %+v; want nothing hashed, 3 served", st)
	}
	replaced := randBytes(100000) // same size, other bytes: a new ETag
	gw.Put(t, "blobs", "b", replaced)
	gw.Remove(t, "blobs", "c")
	gw.Put(t, "blobs", "d", []byte("new"))
	st := scan(t, s)
	if st.Hashed != 2 || st.Removed != 1 || st.Files != 3 {
		t.Fatalf("pass after changes: %+v; want 2 hashed (b, d), 1 removed (c), 3 served", st)
	}
	sha, _ := hashes(replaced)
	if _, err := s.Open(context.Background(), sha); err != nil {
		t.Errorf("the replaced object's new hash: %v", err)
	}
	s.Close()

	s2 := openStore(t, gw, "s3://blobs", index, s3store.Config{}, store.Options{})
	if st := scan(t, s2); st.Hashed != 0 || st.Files != 3 {
		t.Fatalf("pass of a reopened index: %+v; want nothing hashed", st)
	}
	s2.Close()

	loc, _ := s3store.ParseURL("s3://blobs/elsewhere")
	_, err := s3store.Open(loc, s3store.Config{Endpoint: gw.Endpoint}, store.Options{Index: index})
	if !errors.Is(err, s3store.ErrWrongIndex) {
		t.Errorf("opening the index of s3://blobs/ for s3://blobs/elsewhere: %v; want ErrWrongIndex", err)
	}
}

// While readers read an object, it is replaced under its key: no read
// returns a byte of the new object under the old hash. With trees the
// READs are checked against the tree too; without, If-Match alone must
// hold. Once found changed, the old hash is no longer served, and a pass
// serves the new one.
func TestReplacedWhileReading(t *testing.T) {
	for _, noTrees := range []bool{false, true} {
		name := "with-trees"
		if noTrees {
			name = "if-match-only"
		}
		t.Run(name, func(t *testing.T) {
			gw := s3test.Start(t)
			gw.MakeBucket(t, "blobs")
			old, repl := randBytes(8<<20), randBytes(8<<20)
			gw.Put(t, "blobs", "obj", old)
			// Small chunks and a small cache, so reads keep going to the
			// bucket rather than to chunks fetched before the change.
			s := openStore(t, gw, "s3://blobs", "", s3store.Config{ChunkSize: 64 << 10, CacheBytes: 256 << 10}, store.Options{NoTrees: noTrees})
			scan(t, s)
			sha, _ := hashes(old)
			b, err := s.Open(context.Background(), sha)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()

			// Each reader reads random ranges until it has seen the change
			// and read 20 times more.
			var replacedAt atomic.Bool
			var changed, after atomic.Int64
			var wg sync.WaitGroup
			errc := make(chan error, 4)
			for r := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rng := mrand.New(mrand.NewPCG(uint64(r), 7))
					more := -1
					for more != 0 {
						wasReplaced := replacedAt.Load()
						off := rng.Int64N(int64(len(old)))
						n := 1 + rng.Int64N(min(int64(len(old))-off, 1<<20))
						got, err := readRange(b, off, n)
						switch {
						case err == nil && !bytes.Equal(got, old[off:off+n]):
							errc <- errors.New("a read returned bytes other than the hashed object's")
							return
						case err == nil:
							if wasReplaced {
								after.Add(1)
							}
						case errors.Is(err, store.ErrChanged):
							changed.Add(1)
							if more < 0 {
								more = 20
							}
						default:
							errc <- err
							return
						}
						if more > 0 {
							more--
						}
					}
				}()
			}
			gw.Put(t, "blobs", "obj", repl)
			replacedAt.Store(true)
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(2 * time.Minute):
				t.Fatal("readers did not see the object change within 2 minutes")
			}
			close(errc)
			for err := range errc {
				t.Fatal(err)
			}
			t.Logf("reads after the replacement: %d served from chunks fetched before it, %d refused as changed", after.Load(), changed.Load())

			if _, err := s.Open(context.Background(), sha); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("old hash after the change was found: Open = %v; want not found", err)
			}
			scan(t, s)
			nsha, _ := hashes(repl)
			nb, err := s.Open(context.Background(), nsha)
			if err != nil {
				t.Fatalf("new hash after a pass: %v", err)
			}
			got, err := readRange(nb, 0, int64(len(repl)))
			if err != nil || !bytes.Equal(got, repl) {
				t.Fatalf("new object: %v, equal %v", err, bytes.Equal(got, repl))
			}
		})
	}
}

// A removed object's READs fail as not found (permanent), and its hash is
// no longer served.
func TestRemovedObject(t *testing.T) {
	gw := s3test.Start(t)
	gw.MakeBucket(t, "blobs")
	data := randBytes(2 << 20)
	gw.Put(t, "blobs", "gone", data)
	s := openStore(t, gw, "s3://blobs", "", s3store.Config{ChunkSize: 64 << 10, ReadAhead: -1}, store.Options{})
	scan(t, s)
	sha, _ := hashes(data)
	b, err := s.Open(context.Background(), sha)
	if err != nil {
		t.Fatal(err)
	}
	gw.Remove(t, "blobs", "gone")
	_, err = readRange(b, 1<<20, 1000)
	if !errors.Is(err, fs.ErrNotExist) || !store.Permanent(err) {
		t.Fatalf("read of a removed object: %v; want not found", err)
	}
	if _, err := s.Open(context.Background(), sha); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open after the removal was found: %v; want not found", err)
	}
	if st := scan(t, s); st.Files != 0 {
		t.Errorf("pass after the removal: %+v", st)
	}
}

// With the bucket down, reads fail with a retryable error that says so,
// the health check fails naming the bucket, a pass fails and leaves the
// index as it was; once the bucket is back, all of it recovers by itself.
func TestBucketUnreachable(t *testing.T) {
	gw := s3test.Start(t)
	gw.MakeBucket(t, "blobs")
	data := randBytes(4 << 20)
	gw.Put(t, "blobs", "x", data)
	s := openStore(t, gw, "s3://blobs", "", s3store.Config{ChunkSize: 64 << 10, ReadAhead: -1}, store.Options{})
	scan(t, s)
	sha, _ := hashes(data)
	b, err := s.Open(context.Background(), sha)
	if err != nil {
		t.Fatal(err)
	}

	gw.Stop()
	_, err = readRange(b, 0, 1000)
	if err == nil || !store.Retryable(err) || store.Permanent(err) {
		t.Fatalf("read with the bucket down: %v; want a retryable error", err)
	}
	t.Logf("read with the bucket down: %v", err)
	if err := s.Health(context.Background()); err == nil || !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Health with the bucket down: %v; want unavailable", err)
	}
	if _, err := s.Scan(context.Background()); !store.Retryable(err) {
		t.Errorf("pass with the bucket down: %v; want a retryable error", err)
	}
	if b2, err := s.Open(context.Background(), sha); err != nil {
		t.Errorf("the index lost an object while the bucket was down: %v", err)
	} else {
		b2.Close()
	}

	gw.Restart(t)
	got, err := readRange(b, 0, int64(len(data)))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read once the bucket is back: %v", err)
	}
	if err := s.Health(context.Background()); err != nil {
		t.Errorf("Health once the bucket is back: %v", err)
	}
	if st := scan(t, s); st.Files != 1 || st.Hashed != 0 {
		t.Errorf("pass once the bucket is back: %+v", st)
	}
}

// A bucket laid out as real S3 allows: "k" is an object and the prefix of
// others ("k/sub", "k/sub/deeper"). Each is indexed and served by its
// hashes with its own bytes, Lookup finds each, and ListUnder("k") lists
// the two below it. Replacing and removing "k" touches only "k". It needs
// an engine that holds such keys (SeaweedFS, `make test-seaweedfs`);
// versitygw's posix backend cannot, and there the index's own test
// (TestIndexKeyAndFolderOfTheSameName) covers the layout.
func TestKeyAndPrefixOfTheSameName(t *testing.T) {
	gw := s3test.Start(t)
	if !gw.PrefixKeys {
		t.Skipf("%s cannot hold both k and k/sub as keys; %s=%s runs this test", gw.Engine, s3test.EngineEnv, s3test.SeaweedFS)
	}
	gw.MakeBucket(t, "blobs")
	objects := map[string][]byte{
		"k":            randBytes(300000),
		"k/sub":        randBytes(200000),
		"k/sub/deeper": []byte("the deepest\n"),
	}
	// The parent first and the children after, then the other way round.
	gw.Put(t, "blobs", "p/k", objects["k"])
	gw.Put(t, "blobs", "p/k/sub", objects["k/sub"])
	gw.Put(t, "blobs", "p/k/sub/deeper", objects["k/sub/deeper"])
	gw.Put(t, "blobs", "p/x/y", []byte("child before parent"))
	gw.Put(t, "blobs", "p/x", []byte("parent after child"))
	objects["x/y"] = []byte("child before parent")
	objects["x"] = []byte("parent after child")

	s := openStore(t, gw, "s3://blobs/p", "", s3store.Config{ChunkSize: 64 << 10}, store.Options{})
	if st := scan(t, s); st.Files != len(objects) || st.Hashed != len(objects) {
		t.Fatalf("first pass: %+v; want %d objects hashed", st, len(objects))
	}
	check := func(objects map[string][]byte) {
		t.Helper()
		for k, data := range objects {
			e, err := s.Lookup(context.Background(), k)
			if err != nil || e.Size != int64(len(data)) {
				t.Errorf("Lookup(%q) = %+v, %v", k, e, err)
				continue
			}
			sha, b3 := hashes(data)
			for _, h := range []urn.Hash{sha, b3} {
				b, err := s.Open(context.Background(), h)
				if err != nil {
					t.Errorf("%s: open %s: %v", k, h, err)
					continue
				}
				got, err := readRange(b, 0, int64(len(data)))
				b.Close()
				if err != nil || !bytes.Equal(got, data) {
					t.Errorf("%s: read: %v, equal %v", k, err, bytes.Equal(got, data))
				}
			}
		}
	}
	check(objects)
	var under []string
	s.ListUnder(context.Background(), "k", func(e store.Entry) error { under = append(under, e.Path); return nil })
	if len(under) != 2 || under[0] != "k/sub" || under[1] != "k/sub/deeper" {
		t.Errorf("ListUnder(k) = %q; want k/sub and k/sub/deeper", under)
	}

	// "k" replaced, then removed: its children stay as they were.
	objects["k"] = randBytes(300000)
	gw.Put(t, "blobs", "p/k", objects["k"])
	if st := scan(t, s); st.Hashed != 1 || st.Files != len(objects) {
		t.Errorf("pass after k was replaced: %+v; want 1 hashed, %d served", st, len(objects))
	}
	check(objects)
	gw.Remove(t, "blobs", "p/k")
	delete(objects, "k")
	if st := scan(t, s); st.Hashed != 0 || st.Removed != 1 || st.Files != len(objects) {
		t.Errorf("pass after k was removed: %+v; want 1 removed, %d served", st, len(objects))
	}
	if _, err := s.Lookup(context.Background(), "k"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Lookup(k) after its removal: %v; want not found", err)
	}
	check(objects)
}
