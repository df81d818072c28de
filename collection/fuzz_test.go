package collection

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzParse: Parse never panics, and whatever it accepts is canonical:
// Encode of its entries gives back the same bytes.
func FuzzParse(f *testing.F) {
	for _, es := range [][]Entry{nil, {ent("a", 0, true)}, sample()} {
		b, err := Encode(es)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("rtp-collection 1 1 1\n" + line("f", "1", "../x")))
	f.Add([]byte("rtp-collection 1 2 2\n" + line("f", "1", "a") + line("f", "1", "a/b")))
	f.Add([]byte("rtp-collection 1 10000000 0\n"))
	f.Add([]byte("rtp-collection 1 1 1\r\n" + line("f", "01", "a")))
	f.Add([]byte("rtp-collection 1 1 1\n" + line("x", "1", strings.Repeat("a/", 100)+"b")))
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := Parse(bytes.NewReader(in), Limits{MaxFiles: 1000})
		if err != nil {
			return
		}
		out, err := Encode(m.Entries)
		if err != nil {
			t.Fatalf("Parse accepted what Encode refuses: %v\n%q", err, in)
		}
		if !bytes.Equal(out, in) {
			t.Fatalf("accepted a non-canonical manifest:\n%q\nre-encodes to\n%q", in, out)
		}
		var sum int64
		for _, e := range m.Entries {
			if CheckPath(e.Path) != nil {
				t.Fatalf("accepted path %q", e.Path)
			}
			sum += e.Size
		}
		if sum != m.Bytes {
			t.Fatalf("Bytes %d, entries add up to %d", m.Bytes, sum)
		}
	})
}
