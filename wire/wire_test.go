package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
)

func tok(s string) Token {
	var t Token
	copy(t[:], s)
	return t.Masked()
}

var requests = []Request{
	NewOpen(tok("a"), "urn:sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
	NewOpen(tok("\xff\xff\xff\xff\xff\xff\xff\xff"), ""),
	NewRead(tok("rd"), tok("a"), 0, Unlimited),
	NewRead(tok("\x00"), tok("\xff\xff\xff\xff\xff\xff\xff\xff"), 1<<62, 0),
}

func TestRequestRoundTrip(t *testing.T) {
	var b []byte
	for i := range requests {
		b = requests[i].Append(b)
	}
	r := bytes.NewReader(b)
	for i, want := range requests {
		got, err := ReadRequest(r, MaxURI)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if got != want {
			t.Errorf("request %d: got %+v, want %+v", i, got, want)
		}
	}
	if _, err := ReadRequest(r, MaxURI); err != io.EOF {
		t.Errorf("after last request: %v, want io.EOF", err)
	}
}

func TestRequestBytes(t *testing.T) {
	// Hand-built: the flag is bit 0 of the token's last byte.
	open := []byte{1, 2, 3, 4, 5, 6, 7, 0x80, 3, 0, 0, 0, 0, 0, 0, 0, 'a', 'b', 'c'}
	if got := NewOpen(Token{1, 2, 3, 4, 5, 6, 7, 0x81}, "abc"); !bytes.Equal(got.Append(nil), open) {
		t.Errorf("OPEN encodes as % x, want % x", got.Append(nil), open)
	}
	read := []byte{9, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 0x80, 5, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	q, err := ReadRequest(bytes.NewReader(read), MaxURI)
	if err != nil {
		t.Fatal(err)
	}
	want := Request{Token: Token{9}, Type: Read, OpenToken: Token{1, 2, 3, 4, 5, 6, 7, 0x80}, Offset: 5, Length: Unlimited}
	if q != want {
		t.Errorf("READ decodes as %+v, want %+v", q, want)
	}
	// The open_token's flag bit is ignored.
	read[15] |= 1
	q, _ = ReadRequest(bytes.NewReader(read), MaxURI)
	if q.OpenToken != want.OpenToken {
		t.Errorf("open_token flag not ignored: %v", q.OpenToken)
	}
}

func TestRequestTruncated(t *testing.T) {
	for i := range requests {
		b := requests[i].Append(nil)
		for n := 1; n < len(b); n++ {
			_, err := ReadRequest(bytes.NewReader(b[:n]), MaxURI)
			if err != io.ErrUnexpectedEOF {
				t.Errorf("request %d cut to %d of %d bytes: %v, want io.ErrUnexpectedEOF", i, n, len(b), err)
			}
		}
	}
}

// countingReader fails the test if more than limit bytes are read.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestURILimit(t *testing.T) {
	for _, n := range []uint64{MaxURI + 1, 1 << 62, ^uint64(0)} {
		var b []byte
		b = append(b, 1, 0, 0, 0, 0, 0, 0, 0)
		b = binary.LittleEndian.AppendUint64(b, n)
		b = append(b, strings.Repeat("x", 100)...)
		cr := &countingReader{r: bytes.NewReader(b)}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := ReadRequest(cr, MaxURI)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrURITooLong) {
			t.Errorf("length %d: %v, want ErrURITooLong", n, err)
		}
		if d := after.TotalAlloc - before.TotalAlloc; d > 4096 {
			t.Errorf("length %d: allocated %d bytes", n, d)
		}
		if cr.n > 16 {
			t.Errorf("length %d: read %d bytes, want at most 16", n, cr.n)
		}
	}
	exact := NewOpen(Token{}, strings.Repeat("u", MaxURI))
	if _, err := ReadRequest(bytes.NewReader(exact.Append(nil)), MaxURI); err != nil {
		t.Errorf("uri of exactly %d bytes: %v", MaxURI, err)
	}
}

func TestResponseRoundTrip(t *testing.T) {
	var b []byte
	b = AppendResponse(b, tok("ok"), false, nil)
	b = AppendError(b, tok("err"), ErrNotFound)
	b = AppendResponse(b, tok("\xff\xff\xff\xff\xff\xff\xff\xff"), false, []byte("payload"))
	r := bytes.NewReader(b)
	want := []struct {
		h ResponseHeader
		p string
	}{
		{ResponseHeader{tok("ok"), false, 0}, ""},
		{ResponseHeader{tok("err"), true, 9}, "not found"},
		{ResponseHeader{tok("\xff\xff\xff\xff\xff\xff\xff\xfe"), false, 7}, "payload"},
	}
	for i, w := range want {
		h, p, err := ReadResponse(r, 1<<20)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		if h != w.h || string(p) != w.p {
			t.Errorf("response %d: %+v %q, want %+v %q", i, h, p, w.h, w.p)
		}
	}
	// Truncated anywhere: io.ErrUnexpectedEOF.
	one := AppendResponse(nil, tok("t"), false, []byte("abc"))
	for n := 1; n < len(one); n++ {
		if _, _, err := ReadResponse(bytes.NewReader(one[:n]), 1<<20); err != io.ErrUnexpectedEOF {
			t.Errorf("response cut to %d of %d bytes: %v, want io.ErrUnexpectedEOF", n, len(one), err)
		}
	}
	big := AppendResponseHeader(nil, ResponseHeader{Len: 1 << 62})
	if _, _, err := ReadResponse(bytes.NewReader(big), 1<<20); !errors.Is(err, ErrPayloadTooLong) {
		t.Errorf("2^62 payload: %v, want ErrPayloadTooLong", err)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		in     string
		target error
		match  bool
	}{
		{"not found", ErrNotFound, true},
		{"not found: gone", ErrNotFound, true},
		{"error: malformed urn", ErrMalformedURN, true},
		{"error: token in use", ErrMalformedURN, false},
		{"unsupported scheme", ErrUnsupportedScheme, true},
		{"error", ErrNotFound, false},
	}
	for _, tt := range tests {
		e := ParseError(tt.in)
		if e.Error() != tt.in {
			t.Errorf("ParseError(%q).Error() = %q", tt.in, e.Error())
		}
		if got := errors.Is(e, tt.target); got != tt.match {
			t.Errorf("errors.Is(%q, %v) = %v, want %v", tt.in, tt.target, got, tt.match)
		}
	}
}
