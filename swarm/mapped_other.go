//go:build !linux

package swarm

import "github.com/rtp-project/rtp/urn"

// mappedPieces maps the output only on Linux; elsewhere prefixReader reads
// it back.
func (d *Download) mappedPieces() (next func() (urn.Piece, error), ok bool) { return nil, false }
