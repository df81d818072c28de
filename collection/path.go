package collection

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

const (
	// MaxPath is the longest path, in bytes.
	MaxPath = 4096
	// MaxComponent is the longest component of a path, in bytes.
	MaxComponent = 255
)

// CheckPath reports whether p may name a file of a collection: valid
// UTF-8, 1 to 4096 bytes, relative and '/'-separated, no empty component,
// no "." or "..", components of at most 255 bytes, no control character
// (C0: below 0x20 and 0x7f; C1: U+0080 to U+009F, which some terminals
// obey as escapes) and no backslash anywhere. Spaces are allowed.
func CheckPath(p string) error {
	if msg := checkPath(p); msg != "" {
		return errorf("%s", msg)
	}
	return nil
}

// checkPath returns what is wrong with p, or "".
func checkPath(p string) string {
	q := fmt.Sprintf("path %.300q", p)
	switch {
	case p == "":
		return "empty path"
	case len(p) > MaxPath:
		return fmt.Sprintf("%s: %d bytes, longer than %d", q, len(p), MaxPath)
	case !utf8.ValidString(p):
		return q + ": not valid UTF-8"
	case p[0] == '/':
		return q + ": absolute (starts with '/')"
	case p[len(p)-1] == '/':
		return q + ": ends with '/'"
	}
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c < 0x20 || c == 0x7f:
			return fmt.Sprintf("%s: control character 0x%02x", q, c)
		case c == '\\':
			return q + `: backslash`
		}
	}
	for _, r := range p {
		if r >= 0x80 && r <= 0x9f {
			return fmt.Sprintf("%s: control character U+%04X", q, r)
		}
	}
	for c := range strings.SplitSeq(p, "/") {
		switch {
		case c == "":
			return q + ": empty component (\"//\")"
		case c == "." || c == "..":
			return fmt.Sprintf("%s: component %q", q, c)
		case len(c) > MaxComponent:
			return fmt.Sprintf("%s: a component of %d bytes, longer than %d", q, len(c), MaxComponent)
		}
	}
	return ""
}
