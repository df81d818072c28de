package collection

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

// ent makes an entry whose hashes are derived from its path.
func ent(path string, size int64, exec bool) Entry {
	return Entry{Path: path, Size: size, Exec: exec, BLAKE3: sha256.Sum256([]byte("b3" + path)), SHA256: sha256.Sum256([]byte(path))}
}

var (
	hexA = strings.Repeat("ab", 32)
	hexB = strings.Repeat("0f", 32)
)

// line is one entry line with fixed hashes.
func line(mode string, size, path string) string {
	return mode + " " + size + " " + hexA + " " + hexB + " " + path + "\n"
}

func sample() []Entry {
	return []Entry{
		ent("a", 1, false),
		ent("a b", 0, false),
		ent("a-x/y", 5, true),
		ent("a.d/ü ñ", 7, false),
		ent("b/c/d/e", 1<<40, false),
		ent("b/c/f", MaxSize, true),
		ent("z", 0, false),
	}
}

func TestRoundTrip(t *testing.T) {
	for _, es := range [][]Entry{nil, {ent("x", 0, false)}, sample()} {
		b, err := Encode(es)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Parse(bytes.NewReader(b), Limits{})
		if err != nil {
			t.Fatalf("Parse(Encode(%d entries)): %v\n%s", len(es), err, b)
		}
		var sum int64
		for _, e := range es {
			sum += e.Size
		}
		if m.Bytes != sum || len(m.Entries) != len(es) {
			t.Fatalf("parsed %d entries, %d bytes; want %d, %d", len(m.Entries), m.Bytes, len(es), sum)
		}
		for i := range es {
			if m.Entries[i] != es[i] {
				t.Errorf("entry %d: %+v, want %+v", i, m.Entries[i], es[i])
			}
		}
		// One byte at a time: the reader must not rely on large reads.
		if _, err := Parse(iotest.OneByteReader(bytes.NewReader(b)), Limits{}); err != nil {
			t.Errorf("one byte at a time: %v", err)
		}
	}
}

func TestEmptyTree(t *testing.T) {
	b, err := Encode(nil)
	if err != nil || string(b) != "rtp-collection 1 0 0\n" {
		t.Fatalf("Encode(nil) = %q, %v", b, err)
	}
}

// TestEncodeCanonical: any order of the same entries encodes to the same
// bytes, and Encode leaves its argument as it was.
func TestEncodeCanonical(t *testing.T) {
	want, err := Encode(sample())
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		es := sample()
		r.Shuffle(len(es), func(i, j int) { es[i], es[j] = es[j], es[i] })
		before := append([]Entry(nil), es...)
		got, err := Encode(es)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("shuffled input encodes differently:\n%s\nwant\n%s", got, want)
		}
		for i := range es {
			if es[i] != before[i] {
				t.Fatal("Encode reordered its argument")
			}
		}
	}
}

func TestEncodeRefuses(t *testing.T) {
	for _, c := range []struct {
		name string
		es   []Entry
		want string
	}{
		{"dotdot", []Entry{ent("a/../b", 1, false)}, `component ".."`},
		{"absolute", []Entry{ent("/etc/passwd", 1, false)}, "absolute"},
		{"duplicate", []Entry{ent("a", 1, false), ent("a", 2, false)}, `duplicate path "a"`},
		{"file and folder", []Entry{ent("a/b", 1, false), ent("a", 1, false)}, `path "a" is both a file and a folder`},
		{"file and deep folder", []Entry{ent("a", 1, false), ent("a b", 1, false), ent("a/b/c", 1, false)}, `path "a" is both a file and a folder`},
		{"negative", []Entry{ent("a", -1, false)}, "not in 0..2^62"},
		{"huge", []Entry{ent("a", MaxSize+1, false)}, "not in 0..2^62"},
		{"overflow", []Entry{ent("a", MaxSize, false), ent("b", MaxSize, false)}, "past 2^63-1"},
		{"control", []Entry{ent("a\x1b[2J", 1, false)}, "control character 0x1b"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Encode(c.es)
			if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrMalformed) {
				t.Fatalf("Encode: %v, want an error with %q", err, c.want)
			}
		})
	}
}

func TestCheckPath(t *testing.T) {
	good := []string{"a", "a b", " lead", "trail ", "a/b/c", "ü/ñ", "...", ".hidden", "a..b", strings.Repeat("x", 255), strings.Repeat("x/", 2047) + "xx"}
	for _, p := range good {
		if err := CheckPath(p); err != nil {
			t.Errorf("CheckPath(%.40q): %v", p, err)
		}
	}
	bad := map[string]string{
		"":                               "empty path",
		"/a":                             "absolute",
		"a/":                             "ends with '/'",
		"a//b":                           "empty component",
		".":                              `component "."`,
		"a/./b":                          `component "."`,
		"..":                             `component ".."`,
		"a/..":                           `component ".."`,
		"a\\b":                           "backslash",
		"a\nb":                           "control character 0x0a",
		"a\x00":                          "control character 0x00",
		"a\x7f":                          "control character 0x7f",
		"a\u009bb":                       "control character U+009B",
		"a\rb":                           "control character 0x0d",
		"\xff":                           "not valid UTF-8",
		strings.Repeat("x", 256):         "a component of 256 bytes",
		strings.Repeat("x/", 2048) + "x": "longer than 4096",
	}
	for p, want := range bad {
		err := CheckPath(p)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "collection: ") {
			t.Errorf("CheckPath(%.40q) = %v, want an error with %q", p, err, want)
		}
	}
}

func TestIsCollection(t *testing.T) {
	for _, c := range []struct {
		types []string
		want  bool
	}{
		{nil, false},
		{[]string{MediaType}, true},
		{[]string{"Application/Vnd.RTP.Collection"}, true},
		{[]string{"text/plain", MediaType}, false},
		{[]string{MediaType + "x"}, false},
	} {
		if got := IsCollection(c.types); got != c.want {
			t.Errorf("IsCollection(%q) = %v", c.types, got)
		}
	}
}

func TestMaxLength(t *testing.T) {
	if got := (Limits{}).MaxLength(); got != MaxManifest {
		t.Errorf("default MaxLength %d, want 1 GiB", got)
	}
	if got := (Limits{MaxFiles: 10}).MaxLength(); got != 11*MaxLine {
		t.Errorf("MaxLength for 10 files: %d, want %d", got, 11*MaxLine)
	}
}

// TestParseRefuses: each hostile or non-canonical manifest is refused with
// an error naming its line.
func TestParseRefuses(t *testing.T) {
	hdr := func(files, bytes int) string {
		return "rtp-collection 1 " + strconv.Itoa(files) + " " + strconv.Itoa(bytes) + "\n"
	}
	ok := hdr(2, 3) + line("f", "1", "a") + line("x", "2", "b")
	if _, err := Parse(strings.NewReader(ok), Limits{}); err != nil {
		t.Fatalf("the base case is refused: %v", err)
	}
	long := strings.Repeat("x/", 2100) + "x"
	for _, c := range []struct {
		name, in string
		line     int
		want     string
		limit    bool
	}{
		{"empty", "", 1, "empty manifest", false},
		{"not a manifest", "hello\n", 1, "want \"rtp-collection 1", false},
		{"format 2", "rtp-collection 2 0 0\n", 1, `format "2"`, false},
		{"header fields", "rtp-collection 1 0\n", 1, "want \"rtp-collection 1", false},
		{"header leading zero", "rtp-collection 1 00 0\n", 1, "leading zero", false},
		{"header sign", "rtp-collection 1 +1 1\n" + line("f", "1", "a"), 1, "not a decimal", false},
		{"header bytes leading zero", "rtp-collection 1 0 00\n", 1, "leading zero", false},
		{"header extra field", "rtp-collection 1 0 1 2\n", 1, "not a decimal", false},
		{"ten million files", hdr(10_000_000, 0), 1, "header claims 10000000 files, over the limit of 1000000", true},
		{"files past int64", "rtp-collection 1 99999999999999999999999 0\n", 1, "over the limit of 1000000", true},
		{"bytes past int64", "rtp-collection 1 1 9223372036854775808\n" + line("f", "1", "a"), 1, "too large", false},
		{"no final newline", strings.TrimSuffix(ok, "\n"), 3, "no newline at the end", false},
		{"header no newline", "rtp-collection 1 0 0", 1, "no newline at the end", false},
		{"CRLF", strings.ReplaceAll(ok, "\n", "\r\n"), 1, "CR LF", false},
		{"CRLF entry", hdr(1, 1) + strings.TrimSuffix(line("f", "1", "a"), "\n") + "\r\n", 2, "CR LF", false},
		{"trailing data", ok + "junk\n", 4, "data after the last of the 2 files", false},
		{"trailing newline", ok + "\n", 4, "blank line", false},
		{"trailing bytes", ok + "x", 4, "no newline", false},
		{"blank line", hdr(1, 1) + "\n" + line("f", "1", "a"), 2, "blank line", false},
		{"fewer files", hdr(3, 3) + line("f", "1", "a") + line("x", "2", "b"), 4, "ends after 2 of the 3 files", false},
		{"more files", hdr(1, 1) + line("f", "1", "a") + line("f", "0", "b"), 3, "data after the last of the 1 files", false},
		{"total short", hdr(2, 4) + line("f", "1", "a") + line("x", "2", "b"), 1, "header says 4 bytes, the entries add up to 3", false},
		{"total over", hdr(2, 2) + line("f", "1", "a") + line("x", "2", "b"), 3, "past the header's 2 bytes", false},
		{"unsorted", hdr(2, 3) + line("f", "2", "b") + line("f", "1", "a"), 3, `path "a" after "b": not in byte order`, false},
		{"duplicate", hdr(2, 2) + line("f", "1", "a") + line("f", "1", "a"), 3, `duplicate path "a"`, false},
		{"file and folder", hdr(3, 3) + line("f", "1", "a") + line("f", "1", "a b") + line("f", "1", "a/b"), 4, `path "a" is both a file and a folder`, false},
		{"dotdot", hdr(1, 1) + line("f", "1", "../x"), 2, `path "../x": component ".."`, false},
		{"dotdot inside", hdr(1, 1) + line("f", "1", "a/../../x"), 2, `component ".."`, false},
		{"absolute", hdr(1, 1) + line("f", "1", "/etc/passwd"), 2, `path "/etc/passwd": absolute`, false},
		{"control", hdr(1, 1) + line("f", "1", "a\x1b]0;pwned\x07"), 2, "control character 0x1b", false},
		{"tab", hdr(1, 1) + line("f", "1", "a\tb"), 2, "control character 0x09", false},
		{"backslash", hdr(1, 1) + line("f", "1", `..\x`), 2, "backslash", false},
		{"empty path", hdr(1, 1) + strings.TrimSuffix(line("f", "1", ""), "\n") + "\n", 2, "empty path", false},
		{"bad utf8", hdr(1, 1) + line("f", "1", "\xc3("), 2, "not valid UTF-8", false},
		{"mode", hdr(1, 1) + line("l", "1", "a"), 2, "mode 'l', want f or x", false},
		{"mode upper", hdr(1, 1) + line("F", "1", "a"), 2, "mode 'F'", false},
		{"size leading zero", hdr(1, 1) + line("f", "01", "a"), 2, `size "01": leading zero`, false},
		{"size sign", hdr(1, 1) + line("f", "+1", "a"), 2, "not a decimal", false},
		{"size negative", hdr(1, 1) + line("f", "-1", "a"), 2, "not a decimal", false},
		{"size past 2^62", hdr(1, 1) + line("f", "4611686018427387905", "a"), 2, "larger than 2^62", false},
		{"size past int64", hdr(1, 1) + line("f", "99999999999999999999", "a"), 2, "larger than 2^62", false},
		{"sum overflows", "rtp-collection 1 2 9223372036854775807\n" + line("f", "4611686018427387904", "a") + line("f", "4611686018427387904", "b"), 3, "past 2^63-1", false},
		{"uppercase hex", hdr(1, 1) + "f 1 " + strings.ToUpper(hexA) + " " + hexB + " a\n", 2, "lower-case hex", false},
		{"short hash", hdr(1, 1) + "f 1 " + hexA[:62] + " " + hexB + " a\n", 2, "blake3 hash: want 64 hex digits", false},
		{"no path", hdr(1, 1) + "f 1 " + hexA + " " + hexB + "\n", 2, "sha256 hash: want 64 hex digits and a space", false},
		{"double space", hdr(1, 1) + "f  1 " + hexA + " " + hexB + " a\n", 2, "empty number", false},
		{"line too long", hdr(1, 1) + line("f", "1", long), 2, "line longer than 4255 bytes", true},
		{"path too long", hdr(1, 1) + line("f", "1", long[:4097]), 2, "longer than 4096", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := Parse(strings.NewReader(c.in), Limits{})
			if err == nil {
				t.Fatalf("accepted: %+v", m)
			}
			var e *Error
			if !errors.As(err, &e) || e.Line != c.line || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q, want line %d with %q", err, c.line, c.want)
			}
			if !strings.HasPrefix(err.Error(), "collection: line "+strconv.Itoa(c.line)+": ") {
				t.Errorf("error %q does not start with its line", err)
			}
			if !errors.Is(err, ErrMalformed) || errors.Is(err, ErrLimit) != c.limit {
				t.Errorf("errors.Is: malformed %v, limit %v; want true, %v", errors.Is(err, ErrMalformed), errors.Is(err, ErrLimit), c.limit)
			}
		})
	}
}

// TestParseLimits: a header over the caller's MaxFiles is refused from the
// header alone; the reader behind it is not read further.
func TestParseLimits(t *testing.T) {
	in := "rtp-collection 1 11 11\n"
	r := &countReader{r: io.MultiReader(strings.NewReader(in), infinite{})}
	_, err := Parse(r, Limits{MaxFiles: 10})
	if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "over the limit of 10") {
		t.Fatalf("error %v, want the limit of 10", err)
	}
	if r.n > MaxLine {
		t.Errorf("read %d bytes past a refused header", r.n)
	}
	b, _ := Encode([]Entry{ent("a", 1, false), ent("b", 1, false)})
	if _, err := Parse(bytes.NewReader(b), Limits{MaxFiles: 2}); err != nil {
		t.Errorf("2 files with MaxFiles 2: %v", err)
	}
}

// TestParseReadError: an error from the reader is passed on, not called
// malformed.
func TestParseReadError(t *testing.T) {
	boom := errors.New("connection reset")
	_, err := Parse(io.MultiReader(strings.NewReader("rtp-collection 1 1 1\nf 1"), iotest.ErrReader(boom)), Limits{})
	if !errors.Is(err, boom) || errors.Is(err, ErrMalformed) {
		t.Fatalf("error %v, want the reader's", err)
	}
}

// TestParseClaimedFilesAllocation: a header claiming the most files with
// nothing after it costs no allocation for the claimed entries.
func TestParseClaimedFilesAllocation(t *testing.T) {
	in := []byte("rtp-collection 1 1000000 0\n")
	var ms testingMem
	ms.measure(func() { Parse(bytes.NewReader(in), Limits{}) })
	if ms.bytes > 1<<20 {
		t.Errorf("a header claiming 1,000,000 files made Parse allocate %d bytes", ms.bytes)
	}
}

type countReader struct {
	r io.Reader
	n int
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

type infinite struct{}

func (infinite) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}
