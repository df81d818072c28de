package collection

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
)

// Parse reads a manifest from r and checks every rule of the format:
// the header, each line's fields in canonical form, the paths, their
// order, the count and the total. It reads r once, a line at a time (a
// line longer than MaxLine is refused while it is read), refuses a header
// that claims more than lim's files before it reads further, and
// allocates nothing for an entry it has not read. An error for the bytes
// matches ErrMalformed and names the line; an error reading r is wrapped.
func Parse(r io.Reader, lim Limits) (*Manifest, error) {
	p := parser{br: bufio.NewReaderSize(r, MaxLine)}
	line, err := p.next()
	if err == io.EOF {
		return nil, &Error{Line: 1, Msg: "empty manifest, want a header \"rtp-collection 1 <files> <bytes>\""}
	}
	if err != nil {
		return nil, err
	}
	files, total, err := p.header(line, lim.maxFiles())
	if err != nil {
		return nil, err
	}
	var c checker
	c.entries = make([]Entry, 0, min(files, 1024))
	for i := 0; i < files; i++ {
		line, err := p.next()
		if err == io.EOF {
			return nil, p.errorf("the manifest ends after %d of the %d files its header claims", i, files)
		}
		if err != nil {
			return nil, err
		}
		e, err := p.entry(line)
		if err != nil {
			return nil, err
		}
		if msg := c.add(e); msg != "" {
			return nil, p.errorf("%s", msg)
		}
		if c.sum > total {
			return nil, p.errorf("sizes add up to %d so far, past the header's %d bytes", c.sum, total)
		}
	}
	if c.sum != total {
		return nil, &Error{Line: 1, Msg: fmt.Sprintf("header says %d bytes, the entries add up to %d", total, c.sum)}
	}
	if _, err := p.next(); err != io.EOF {
		if err != nil {
			return nil, err
		}
		return nil, p.errorf("data after the last of the %d files", files)
	}
	return &Manifest{Entries: c.entries, Bytes: c.sum}, nil
}

type parser struct {
	br   *bufio.Reader
	line int // of the line last read
}

func (p *parser) errorf(format string, a ...any) error {
	return &Error{Line: p.line, Msg: fmt.Sprintf(format, a...)}
}

// next returns the next line without its "\n", valid until the next call,
// or io.EOF at a clean end.
func (p *parser) next() ([]byte, error) {
	p.line++
	b, err := p.br.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return nil, &Error{Line: p.line, Msg: fmt.Sprintf("line longer than %d bytes", MaxLine), limit: true}
	case err == io.EOF && len(b) == 0:
		return nil, io.EOF
	case err == io.EOF:
		return nil, p.errorf("no newline at the end of the manifest")
	case err != nil:
		return nil, fmt.Errorf("collection: line %d: %w", p.line, err)
	}
	b = b[:len(b)-1]
	if len(b) > 0 && b[len(b)-1] == '\r' {
		return nil, p.errorf("line ends in CR LF; lines end in LF alone")
	}
	if len(b) == 0 {
		return nil, p.errorf("blank line")
	}
	return b, nil
}

func (p *parser) header(b []byte, maxFiles int) (files int, total int64, err error) {
	rest, ok := bytes.CutPrefix(b, []byte(header))
	if !ok {
		if v, ok := bytes.CutPrefix(b, []byte("rtp-collection ")); ok {
			v, _, _ = bytes.Cut(v, []byte(" "))
			return 0, 0, p.errorf("format %.20q, this reader knows format 1", v)
		}
		return 0, 0, p.errorf("header %.40q, want \"rtp-collection 1 <files> <bytes>\"", b)
	}
	f, t, ok := bytes.Cut(rest, []byte(" "))
	if !ok {
		return 0, 0, p.errorf("header %.60q, want \"rtp-collection 1 <files> <bytes>\"", b)
	}
	n, msg := decimal(f, math.MaxInt64)
	if msg != "" {
		if msg == "too large" {
			return 0, 0, &Error{Line: p.line, Msg: fmt.Sprintf("header claims %.30s files, over the limit of %d", f, maxFiles), limit: true}
		}
		return 0, 0, p.errorf("file count %.30q: %s", f, msg)
	}
	if n > uint64(maxFiles) {
		return 0, 0, &Error{Line: p.line, Msg: fmt.Sprintf("header claims %d files, over the limit of %d", n, maxFiles), limit: true}
	}
	sum, msg := decimal(t, math.MaxInt64)
	if msg != "" {
		return 0, 0, p.errorf("byte count %.30q: %s", t, msg)
	}
	return int(n), int64(sum), nil
}

// entry parses "<mode> <size> <blake3> <sha256> <path>"; the rules across
// entries are the checker's.
func (p *parser) entry(b []byte) (Entry, error) {
	var e Entry
	switch {
	case len(b) < 2 || b[1] != ' ':
		return e, p.errorf("want \"<mode> <size> <blake3> <sha256> <path>\", got %.40q", b)
	case b[0] == 'x':
		e.Exec = true
	case b[0] != 'f':
		return e, p.errorf("mode %q, want f or x", b[0])
	}
	b = b[2:]
	size, rest, ok := bytes.Cut(b, []byte(" "))
	if !ok {
		return e, p.errorf("no hashes after the size")
	}
	n, msg := decimal(size, MaxSize)
	if msg == "too large" {
		msg = "larger than 2^62"
	}
	if msg != "" {
		return e, p.errorf("size %.30q: %s", size, msg)
	}
	e.Size = int64(n)
	for _, h := range []struct {
		name string
		sum  *[32]byte
	}{{"blake3", &e.BLAKE3}, {"sha256", &e.SHA256}} {
		if len(rest) < 65 || rest[64] != ' ' {
			return e, p.errorf("%s hash: want 64 hex digits and a space", h.name)
		}
		if !lowerHex(rest[:64]) {
			return e, p.errorf("%s hash %.64q: want lower-case hex digits", h.name, rest[:64])
		}
		hex.Decode(h.sum[:], rest[:64])
		rest = rest[65:]
	}
	e.Path = string(rest)
	return e, nil
}

// decimal parses a canonical decimal: digits only, no sign, no leading
// zero but in "0", at most max. It returns what is wrong, or "".
func decimal(b []byte, max uint64) (uint64, string) {
	switch {
	case len(b) == 0:
		return 0, "empty number"
	case len(b) > 1 && b[0] == '0':
		return 0, "leading zero"
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, "not a decimal number"
		}
		d := uint64(c - '0')
		if n > (max-d)/10 {
			return 0, "too large"
		}
		n = n*10 + d
	}
	return n, ""
}

func lowerHex(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
