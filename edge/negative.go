package edge

import (
	"time"

	"github.com/rtp-project/rtp/urn"
)

// maxNegative bounds the negative cache: past it, expired entries are
// dropped, then the whole cache if none had expired (a flood of made-up
// hashes costs upstream OPENs, never memory).
const maxNegative = 1 << 16

// negCache remembers, for ttl, the hashes every upstream said it does not
// hold. It is guarded by Edge.mu.
type negCache struct {
	ttl time.Duration
	m   map[urn.Hash]time.Time // hash -> when to forget it
}

func (n *negCache) add(h urn.Hash, now time.Time) {
	if n.ttl <= 0 {
		return
	}
	if len(n.m) >= maxNegative {
		n.expire(now)
		if len(n.m) >= maxNegative {
			clear(n.m)
		}
	}
	n.m[h] = now.Add(n.ttl)
}

func (n *negCache) has(h urn.Hash, now time.Time) bool {
	until, ok := n.m[h]
	if ok && !now.Before(until) {
		delete(n.m, h)
		return false
	}
	return ok
}

func (n *negCache) expire(now time.Time) {
	for h, until := range n.m {
		if !now.Before(until) {
			delete(n.m, h)
		}
	}
}
