package store

import (
	"fmt"
	"testing"

	"github.com/rtp-project/rtp/urn"
)

func TestEntryURNs(t *testing.T) {
	e := Entry{SHA256: [32]byte{1}, BLAKE3: [32]byte{2}}
	b3, sha := urn.New(urn.BLAKE3, e.BLAKE3), urn.New(urn.SHA256, e.SHA256)
	for _, c := range []struct {
		kinds []urn.Kind
		want  []urn.Hash
	}{
		{nil, []urn.Hash{b3}},
		{[]urn.Kind{urn.BLAKE3}, []urn.Hash{b3}},
		{[]urn.Kind{urn.SHA256}, []urn.Hash{sha}},
		{[]urn.Kind{urn.BLAKE3, urn.SHA256}, []urn.Hash{b3, sha}},
		{[]urn.Kind{urn.SHA256, urn.BLAKE3}, []urn.Hash{sha, b3}},
	} {
		if got := e.URNs(c.kinds); fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("URNs(%v) = %v, want %v", c.kinds, got, c.want)
		}
	}
}
