package s3store

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"go.etcd.io/bbolt"

	"github.com/rtp-project/rtp/store"
)

// A bucket laid out as real S3 allows holds both "a" and "a/b" (versitygw's
// posix backend cannot: "a" would be a file and a folder). The index keeps
// them apart: each is found by path and hash, a/b is under the folder a,
// and dropping one leaves the other.
func TestIndexKeyAndFolderOfTheSameName(t *testing.T) {
	loc, _ := ParseURL("s3://bucket/p")
	s, err := Open(loc, Config{Endpoint: "http://127.0.0.1:1"}, store.Options{Index: filepath.Join(t.TempDir(), "index.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	objs := []object{
		{key: "a", size: 1, etag: "e1", sha256: [32]byte{1}, blake3: [32]byte{2}, tree: true},
		{key: "a/b", size: 2, etag: "e2", sha256: [32]byte{3}, blake3: [32]byte{4}, tree: true},
		{key: "a/b/c", size: 3, etag: "e3", sha256: [32]byte{5}, blake3: [32]byte{6}, tree: true},
	}
	err = s.db.Update(func(tx *bbolt.Tx) error {
		for i := range objs {
			if err := putObject(tx, &objs[i], nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, o := range objs {
		e, err := s.Lookup(ctx, o.key)
		if err != nil || e.Size != o.size || e.SHA256 != o.sha256 {
			t.Errorf("Lookup(%q) = %+v, %v", o.key, e, err)
		}
		for _, h := range e.Hashes() {
			b, err := s.Open(ctx, h)
			if err != nil || b.Size() != o.size {
				t.Errorf("Open(%s) of %q: %v", h, o.key, err)
			}
		}
	}
	var under []string
	s.ListUnder(ctx, "a", func(e store.Entry) error { under = append(under, e.Path); return nil })
	if len(under) != 2 || under[0] != "a/b" || under[1] != "a/b/c" {
		t.Errorf("ListUnder(a) = %q; want a/b and a/b/c", under)
	}
	// A stale ETag does not drop a newer entry; the right one drops only
	// its key.
	s.dropStale("a/b", "not-e2")
	if _, err := s.Lookup(ctx, "a/b"); err != nil {
		t.Errorf("a/b was dropped for another ETag: %v", err)
	}
	s.dropStale("a", "e1")
	if _, err := s.Lookup(ctx, "a"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a after it was dropped: %v", err)
	}
	for _, k := range []string{"a/b", "a/b/c"} {
		if _, err := s.Lookup(ctx, k); err != nil {
			t.Errorf("%s was dropped with a: %v", k, err)
		}
	}
}

func TestParseURL(t *testing.T) {
	for _, c := range []struct{ in, want, bad string }{
		{in: "s3://bucket", want: "s3://bucket/"},
		{in: "s3://bucket/", want: "s3://bucket/"},
		{in: "s3://bucket/x", want: "s3://bucket/x/"},
		{in: "s3://bucket/x/y/", want: "s3://bucket/x/y/"},
		{in: "S3://Bucket_1/x", want: "s3://Bucket_1/x/"},
		{in: "s3://", bad: "no bucket"},
		{in: "s3:///x", bad: "no bucket"},
		{in: "s3://ab/x", bad: "3 to 63"},
		{in: "s3://a b c/x", bad: "not allowed"},
		{in: "gs://bucket", bad: "want s3://"},
	} {
		loc, err := ParseURL(c.in)
		switch {
		case c.bad == "" && (err != nil || loc.String() != c.want):
			t.Errorf("ParseURL(%q) = %s, %v; want %s", c.in, loc, err, c.want)
		case c.bad != "" && (err == nil || !strings.Contains(err.Error(), c.bad)):
			t.Errorf("ParseURL(%q) = %s, %v; want an error saying %q", c.in, loc, err, c.bad)
		}
	}
}
