package web

import (
	"errors"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/urn"
)

// immutable is the Cache-Control of a blob: its URL names its bytes.
const immutable = "public, max-age=31536000, immutable"

// blob serves GET and HEAD /sha256/<hex> and /blake3/<hex>: the bytes with
// that hash, with Range (http.ServeContent), a strong ETag that is the hash
// in hex, and immutable caching. ?dn=NAME adds a Content-Disposition and
// picks the Content-Type by NAME's extension.
//
// The blob's ReadAt checks the file is still what was hashed: a file
// changed before the response starts is 404 (the store no longer holds
// those bytes); one changed while it is sent cuts the response short, so
// the client sees fewer bytes than Content-Length and never wrong ones.
func (f *Face) blob(rw http.ResponseWriter, r *http.Request) {
	w := &counted{ResponseWriter: rw, code: http.StatusOK}
	if f.cfg.CountBlob != nil {
		defer func() { f.cfg.CountBlob(w.code, w.n) }()
	}
	kind := strings.Trim(path.Dir(r.URL.Path), "/")
	h, err := urn.Parse("urn:" + kind + ":" + r.PathValue("hex"))
	if err != nil {
		http.Error(w, "bad hash: want /"+kind+"/ and 64 hex digits", http.StatusNotFound)
		return
	}
	b, err := f.cfg.Store.Open(r.Context(), h)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		http.Error(w, "not found", http.StatusNotFound)
		return
	case err != nil:
		f.log.Warn("http: open failed", "urn", h.String(), "err", err)
		http.Error(w, "cannot open", http.StatusInternalServerError)
		return
	}
	defer b.Close()
	if fb, ok := b.(store.FileBlob); ok {
		if err := fb.Check(); err != nil {
			http.Error(w, "the file changed since it was hashed", http.StatusNotFound)
			return
		}
	}
	hdr := w.Header()
	hdr.Set("ETag", `"`+h.Hex()+`"`)
	hdr.Set("Cache-Control", immutable)
	ctype := "application/octet-stream"
	if dn := r.URL.Query().Get("dn"); dn != "" && !strings.ContainsAny(dn, "/\\") {
		if t := mime.TypeByExtension(path.Ext(dn)); t != "" {
			ctype = t
		}
		hdr.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": dn}))
	}
	hdr.Set("Content-Type", ctype)
	// A published page must not run as this face's origin.
	hdr.Set("Content-Security-Policy", "sandbox")
	http.ServeContent(w, r, "", time.Time{}, io.NewSectionReader(b, 0, b.Size()))
}

// counted is a ResponseWriter that keeps the status code and counts the
// body bytes, for Config.CountBlob.
type counted struct {
	http.ResponseWriter
	code int
	n    int64
}

func (c *counted) WriteHeader(code int) {
	c.code = code
	c.ResponseWriter.WriteHeader(code)
}

func (c *counted) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n += int64(n)
	return n, err
}

func (c *counted) Unwrap() http.ResponseWriter { return c.ResponseWriter }
