package swarm

import (
	"fmt"
	"slices"

	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/urn"
)

// Verify says which of a URL's hashes a download must match.
//
// Every urn in a URL comes from whoever wrote the URL, and no server can
// make bytes match a 256-bit hash it did not choose: against the servers,
// one urn proves as much as all of them. Checking the others only catches
// a URL that contradicts itself, such as a sha256 the user trusts from a
// published list beside a blake3 someone else chose. The wire contract
// says a client verifies every urn it knows, so that is the default
// (VerifyAll); VerifyOne is for a user who asks for the cheaper check.
type Verify int

const (
	// VerifyAll checks every urn the URL names; with a tree, the others
	// are hashed in one more pass over the file, in order.
	VerifyAll Verify = iota
	// VerifyOne checks one urn: the first blake3 one when the URL names
	// one (on arrival against its tree when a server offers it, else
	// whole at the end), else the first urn. The URL's other urns are not
	// computed, and Result.Verified does not list them.
	VerifyOne
)

// ParseVerify parses "one" or "all".
func ParseVerify(s string) (Verify, error) {
	switch s {
	case "one":
		return VerifyOne, nil
	case "all":
		return VerifyAll, nil
	}
	return 0, fmt.Errorf("--verify %q: want one or all", s)
}

func (v Verify) String() string {
	if v == VerifyAll {
		return "all"
	}
	return "one"
}

// Checked returns the urns of u that a download with v verifies, in the
// URL's order.
func Checked(u *rtpurl.URL, v Verify) []urn.Hash {
	if v == VerifyAll || len(u.Hashes) < 2 {
		return slices.Clone(u.Hashes)
	}
	for _, h := range u.Hashes {
		if h.Kind == urn.BLAKE3 {
			return []urn.Hash{h}
		}
	}
	return u.Hashes[:1:1]
}

// kinds returns the hash kinds to compute: those of the checked urns.
func (d *Download) kinds() []urn.Kind {
	var ks []urn.Kind
	for _, h := range Checked(d.cfg.URL, d.cfg.Verify) {
		if !slices.Contains(ks, h.Kind) {
			ks = append(ks, h.Kind)
		}
	}
	return ks
}

// verify checks the sums against every checked urn; with a tree, the
// blake3 ones were checked on arrival.
func (d *Download) verify(s urn.Sums) error {
	for _, h := range Checked(d.cfg.URL, d.cfg.Verify) {
		if d.tree != nil && h.Kind == urn.BLAKE3 {
			if h != d.treeRoot {
				return fmt.Errorf("%w: want %s, got %s", ErrMismatch, h, d.treeRoot)
			}
			continue
		}
		if s.Of(h.Kind) != h.Sum {
			return fmt.Errorf("%w: want %s, got %s", ErrMismatch, h, urn.New(h.Kind, s.Of(h.Kind)))
		}
	}
	return nil
}

// verified returns the checked urns as strings, for Result.Verified.
func (d *Download) verified() []string {
	var s []string
	for _, h := range Checked(d.cfg.URL, d.cfg.Verify) {
		s = append(s, h.String())
	}
	return s
}
