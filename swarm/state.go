package swarm

import (
	"encoding/json"
	"os"

	"github.com/rtp-project/rtp/internal/atomicfile"
	"github.com/rtp-project/rtp/rtpurl"
)

// State is what a later run needs to resume: which blocks of the .part file
// hold fetched bytes. It is saved only after the .part file is synced, so a
// block it lists is on disk. Kept blocks are trusted only if Verified names
// the blake3 urn whose tree this run checks against: each was checked when
// it arrived. Otherwise they are checked against the tree when the run
// starts, or re-hashed with the whole file: a kept block that was wrong
// shows up as a mismatch and is fetched again or repaired.
type State struct {
	Version   int      `json:"version"`
	URNs      []string `json:"urns"`
	Length    int64    `json:"length"`
	BlockSize int64    `json:"block_size"`
	Done      []byte   `json:"done"`               // bitmap, bit i%8 of byte i/8
	Verified  string   `json:"verified,omitempty"` // blake3 urn whose tree checked every done block
}

func (s *State) blocks(n int) []bool {
	out := make([]bool, n)
	for i := range out {
		if i/8 < len(s.Done) {
			out[i] = s.Done[i/8]&(1<<(i%8)) != 0
		}
	}
	return out
}

func urns(u *rtpurl.URL) []string {
	var s []string
	for _, h := range u.Hashes {
		s = append(s, h.String())
	}
	return s
}

// loadState returns the state at path if it is for the same resource, else
// nil.
func loadState(path string, u *rtpurl.URL) *State {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var s State
	if json.Unmarshal(b, &s) != nil || s.Version != 1 || s.Length < 0 || s.BlockSize <= 0 {
		return nil
	}
	// Same resource if any urn is shared.
	have := map[string]bool{}
	for _, x := range s.URNs {
		have[x] = true
	}
	for _, x := range urns(u) {
		if have[x] {
			return &s
		}
	}
	return nil
}

// saveState writes the state atomically.
func saveState(path string, u *rtpurl.URL, length, bsize int64, done []bool, verified string) error {
	s := State{Version: 1, URNs: urns(u), Length: length, BlockSize: bsize, Done: make([]byte, (len(done)+7)/8), Verified: verified}
	for i, ok := range done {
		if ok {
			s.Done[i/8] |= 1 << (i % 8)
		}
	}
	b, err := json.Marshal(&s)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, b, 0o600)
}
