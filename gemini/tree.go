package gemini

import (
	"context"
	"errors"
	"path"
	"path/filepath"

	gmi "git.sr.ht/~adnano/go-gemini"

	"github.com/rtp-project/rtp/collection"
	"github.com/rtp-project/rtp/collstore"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/urn"
)

// redirectTree answers a folder's gemini+rtp://HOST/PATH/ with 30 and the
// rtp: URL of its tree now: the manifest is built from the index, saved
// where the RTP server serves it, and named by its hashes. A file being
// hashed gets 40, as for a file's name; a folder with no file 51.
func (s *Server) redirectTree(ctx context.Context, w gmi.ResponseWriter, u interface{ Hostname() string }, rel string) {
	s.buildMu.Lock()
	es, err := collstore.Build(ctx, s.cfg.Index, s.cfg.Root, rel, s.log)
	var m []byte
	var sums urn.Sums
	if err == nil {
		m, err = collection.Encode(es)
	}
	if err == nil {
		sums, err = s.cfg.Trees.Save(m)
	}
	s.buildMu.Unlock()
	switch {
	case errors.Is(err, collstore.ErrEmpty):
		w.WriteHeader(gmi.StatusNotFound, "Not found")
		return
	case errors.Is(err, store.ErrChanged):
		w.WriteHeader(gmi.StatusTemporaryFailure, "A file of the folder is being hashed; try again in a few seconds")
		return
	case err != nil:
		s.log.Warn("gemini: cannot make the tree of a folder", "path", rel, "err", err)
		w.WriteHeader(gmi.StatusTemporaryFailure, "Temporary failure")
		return
	}
	name := path.Base(rel)
	if rel == "" {
		name = filepath.Base(s.cfg.Root)
		if name == "." || name == string(filepath.Separator) {
			name = ""
		}
	}
	ru := rtpurl.URL{
		Hashes:  sums.URNs(s.cfg.URNs),
		Length:  sums.N,
		Servers: s.servers(u.Hostname()),
		Types:   []string{collection.MediaType},
		Name:    name,
	}
	meta := ru.String()
	if len(meta) > MaxMeta {
		ru.Name = ""
		meta = ru.String()
	}
	if len(meta) > MaxMeta {
		s.log.Warn("gemini: rtp: URL too long for a Gemini redirect; advertise fewer servers", "path", rel, "bytes", len(meta))
		w.WriteHeader(gmi.StatusTemporaryFailure, "The rtp: URL is longer than Gemini allows")
		return
	}
	w.WriteHeader(gmi.StatusRedirect, meta)
}
