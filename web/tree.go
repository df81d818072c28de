package web

import (
	"errors"
	"net/http"
	"path"
	"strings"

	"github.com/rtp-project/rtp/collection"
	"github.com/rtp-project/rtp/collstore"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/store"
)

// tree serves GET /tree/FOLDER/: the rtp: URL of the folder's tree now,
// as text/plain; its manifest is built from the index and kept where the
// RTP server serves it. A folder with no file is 404; one with a file
// being hashed 503 with Retry-After.
func (f *Face) tree(w http.ResponseWriter, r *http.Request) {
	rel := strings.Trim(r.PathValue("path"), "/")
	if rel != "" && collection.CheckPath(rel) != nil {
		http.Error(w, "bad folder path", http.StatusBadRequest)
		return
	}
	f.treeMu.Lock()
	es, err := collstore.Build(r.Context(), f.cfg.Index, f.cfg.Root, rel, f.log)
	var m []byte
	if err == nil {
		m, err = collection.Encode(es)
	}
	var u rtpurl.URL
	if err == nil {
		s, serr := f.cfg.Trees.Save(m)
		err = serr
		u = rtpurl.URL{Hashes: s.URNs(f.cfg.URNs), Length: s.N, Servers: f.servers(requestHost(r)), Types: []string{collection.MediaType}, Name: path.Base("/" + rel)}
	}
	f.treeMu.Unlock()
	switch {
	case errors.Is(err, collstore.ErrEmpty):
		http.Error(w, "no file under this folder", http.StatusNotFound)
		return
	case errors.Is(err, store.ErrChanged):
		w.Header().Set("Retry-After", "5")
		http.Error(w, "a file of the folder is being hashed; try again in a few seconds", http.StatusServiceUnavailable)
		return
	case err != nil:
		f.log.Warn("http: cannot make the tree of a folder", "path", rel, "err", err)
		http.Error(w, "cannot make the folder's tree", http.StatusInternalServerError)
		return
	}
	if u.Name == "/" {
		u.Name = ""
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	w.Write([]byte(u.String() + "\n"))
}
