package urn

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// Kind names a hash function.
type Kind uint8

const (
	Invalid Kind = iota
	SHA256
	BLAKE3
)

// Size is the length in bytes of every digest this package knows.
const Size = 32

var prefixes = [...]string{SHA256: "urn:sha256:", BLAKE3: "urn:blake3:"}

// Kinds lists the known kinds in the order they are usually written.
var Kinds = []Kind{SHA256, BLAKE3}

func (k Kind) String() string {
	switch k {
	case SHA256:
		return "sha256"
	case BLAKE3:
		return "blake3"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Hash identifies content by its digest. The zero Hash is invalid.
type Hash struct {
	Kind Kind
	Sum  [Size]byte
}

// New returns the Hash of kind k with digest sum.
func New(k Kind, sum [Size]byte) Hash { return Hash{Kind: k, Sum: sum} }

// Parse parses "urn:<kind>:<hex>". The kind and hex digits are
// case-insensitive. It checks prefix and length before decoding.
func Parse(s string) (Hash, error) {
	k := kindOf(s)
	if k == Invalid {
		return Hash{}, fmt.Errorf("%w: %.40q", ErrUnsupported, s)
	}
	v := s[len(prefixes[k]):]
	if len(v) != 2*Size {
		return Hash{}, fmt.Errorf("%w: %s value has %d characters, want %d", ErrMalformed, k, len(v), 2*Size)
	}
	h := Hash{Kind: k}
	if _, err := hex.Decode(h.Sum[:], []byte(v)); err != nil {
		return Hash{}, fmt.Errorf("%w: %s value is not hex", ErrMalformed, k)
	}
	return h, nil
}

// kindOf returns the kind whose prefix s starts with, ignoring case.
func kindOf(s string) Kind {
	for _, k := range Kinds {
		p := prefixes[k]
		if len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) {
			return k
		}
	}
	return Invalid
}

// Valid reports whether h has a known kind.
func (h Hash) Valid() bool { return h.Kind == SHA256 || h.Kind == BLAKE3 }

// String returns the urn in canonical, lower-case form.
func (h Hash) String() string {
	if !h.Valid() {
		return "urn:invalid"
	}
	return prefixes[h.Kind] + hex.EncodeToString(h.Sum[:])
}

// Hex returns the digest in lower-case hex.
func (h Hash) Hex() string { return hex.EncodeToString(h.Sum[:]) }
