package collection

import (
	"encoding/hex"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/rtp-project/rtp/urn"
)

// MediaType marks a collection in an rtp: URL's t= field.
const MediaType = "application/vnd.rtp.collection"

const (
	// MaxSize is the largest size of one file: 2^62 bytes.
	MaxSize = 1 << 62
	// MaxLine is the longest line a reader accepts, its "\n" included:
	// "x ", a size, two hashes and a path of MaxPath bytes, with room.
	MaxLine = 6 + 20 + 2*64 + MaxPath + 5
	// DefaultMaxFiles is the limit on files when Limits.MaxFiles is zero.
	DefaultMaxFiles = 1_000_000
	// MaxManifest is the largest manifest a reader fetches: 1 GiB.
	MaxManifest = 1 << 30

	header = "rtp-collection 1 "
)

// Entry is one file of a tree.
type Entry struct {
	Path   string // relative, '/'-separated; see CheckPath
	Size   int64  // 0 to MaxSize
	Exec   bool   // mode x: the file is executable
	BLAKE3 [32]byte
	SHA256 [32]byte
}

// Hashes returns the entry's urns, blake3 first.
func (e Entry) Hashes() []urn.Hash {
	return []urn.Hash{urn.New(urn.BLAKE3, e.BLAKE3), urn.New(urn.SHA256, e.SHA256)}
}

// Manifest is a parsed collection: its entries in path order, and the sum
// of their sizes.
type Manifest struct {
	Entries []Entry
	Bytes   int64
}

// Limits bound what Parse accepts.
type Limits struct {
	// MaxFiles is the most entries a manifest may list; zero (or less)
	// means DefaultMaxFiles (1,000,000).
	MaxFiles int
}

func (l Limits) maxFiles() int {
	if l.MaxFiles <= 0 {
		return DefaultMaxFiles
	}
	return l.MaxFiles
}

// MaxLength is the longest manifest these limits allow, to check a URL's
// l= against before fetching the manifest: MaxFiles lines of MaxLine
// bytes and a header, and never more than MaxManifest (1 GiB).
func (l Limits) MaxLength() int64 {
	n := int64(l.maxFiles())
	if n > (MaxManifest-MaxLine)/MaxLine {
		return MaxManifest
	}
	return (n + 1) * MaxLine
}

// IsCollection reports whether an rtp: URL's t= values mark a collection:
// the first is MediaType (compared ignoring case, as media types are).
func IsCollection(types []string) bool {
	return len(types) > 0 && strings.EqualFold(types[0], MediaType)
}

// Encode returns the canonical manifest of entries: it sorts a copy by
// path and checks every rule (paths, sizes, duplicates, a path that is
// also a folder, a total past 2^63-1); entries is left as it was.
func Encode(entries []Entry) ([]byte, error) {
	es := slices.Clone(entries)
	slices.SortFunc(es, func(a, b Entry) int { return strings.Compare(a.Path, b.Path) })
	var c checker
	n := len(header) + 2*20 + 2
	for _, e := range es {
		if msg := c.add(e); msg != "" {
			return nil, errorf("%s", msg)
		}
		n += 2 + 20 + 2*64 + 3 + len(e.Path) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, header...)
	b = strconv.AppendInt(b, int64(len(es)), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, c.sum, 10)
	b = append(b, '\n')
	for _, e := range es {
		b = appendEntry(b, e)
	}
	return b, nil
}

func appendEntry(b []byte, e Entry) []byte {
	if e.Exec {
		b = append(b, 'x', ' ')
	} else {
		b = append(b, 'f', ' ')
	}
	b = strconv.AppendInt(b, e.Size, 10)
	b = append(b, ' ')
	b = hex.AppendEncode(b, e.BLAKE3[:])
	b = append(b, ' ')
	b = hex.AppendEncode(b, e.SHA256[:])
	b = append(b, ' ')
	b = append(b, e.Path...)
	return append(b, '\n')
}

// checker holds the rules across entries, which come in path order.
type checker struct {
	entries []Entry
	sum     int64
}

// add checks e against the rules and the entries before it, and appends
// it; it returns what is wrong, or "".
func (c *checker) add(e Entry) string {
	if msg := checkPath(e.Path); msg != "" {
		return msg
	}
	if e.Size < 0 || e.Size > MaxSize {
		return "size " + strconv.FormatInt(e.Size, 10) + " of path " + strconv.Quote(e.Path) + ": not in 0..2^62"
	}
	if n := len(c.entries); n > 0 {
		prev := c.entries[n-1].Path
		switch {
		case e.Path == prev:
			return "duplicate path " + strconv.Quote(e.Path)
		case e.Path < prev:
			return "path " + strconv.Quote(e.Path) + " after " + strconv.Quote(prev) + ": not in byte order"
		}
	}
	// A folder of e.Path sorts before it: look each one up among the
	// files so far.
	for i := 0; i < len(e.Path); i++ {
		if e.Path[i] != '/' {
			continue
		}
		dir := e.Path[:i]
		if _, found := slices.BinarySearchFunc(c.entries, dir, func(x Entry, p string) int { return strings.Compare(x.Path, p) }); found {
			return "path " + strconv.Quote(dir) + " is both a file and a folder (of " + strconv.Quote(e.Path) + ")"
		}
	}
	if e.Size > math.MaxInt64-c.sum {
		return "sizes add up past 2^63-1 at path " + strconv.Quote(e.Path)
	}
	c.sum += e.Size
	c.entries = append(c.entries, e)
	return ""
}
