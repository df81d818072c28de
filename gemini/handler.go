package gemini

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"path"
	"strings"

	gmi "git.sr.ht/~adnano/go-gemini"

	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/store"
)

// ServeGemini answers one request:
//
//   - gemini+rtp://HOST/PATH or gemini://HOST/PATH for a file:
//     31 and its rtp: URL (the urns of ServerConfig.URNs, length, the advertised
//     servers, dn);
//   - gemini+rtp://HOST/PATH/ (ending in /) for a folder, with
//     ServerConfig.Trees: 30 and the rtp: URL of the folder's tree (a
//     collection of every file under it), built now: a mutable name, whose
//     URL changes when a file does;
//   - gemini://HOST/PATH/, or a folder without the /: 20 text/gemini, a
//     listing of gemini+rtp:// links, each file's rtp: URL under its link,
//     dot-files left out;
//   - a file changed since it was hashed, or not hashed yet: 40, until the
//     rescan it triggers has hashed it;
//   - anything else under HOST: 51; another scheme: 53; a user part: 59.
//
// Any HOST is answered: rtpd does not know every name it is reached by.
func (s *Server) ServeGemini(ctx context.Context, w gmi.ResponseWriter, r *gmi.Request) {
	u := r.URL
	switch {
	case u.Scheme != SchemeRTP && u.Scheme != SchemeGemini:
		w.WriteHeader(gmi.StatusProxyRequestRefused, "No proxying: this server answers gemini+rtp:// and gemini:// names")
		return
	case u.User != nil || u.Hostname() == "":
		w.WriteHeader(gmi.StatusBadRequest, "Bad request: want gemini+rtp://host/path")
		return
	}
	if len(s.servers(u.Hostname())) == 0 {
		w.WriteHeader(gmi.StatusBadRequest, "Bad request: the host cannot name an RTP server")
		return
	}
	rel, dirOnly := cleanPath(u.Path)
	if s.cfg.Trees != nil && u.Scheme == SchemeRTP && strings.HasSuffix(u.Path, "/") {
		s.redirectTree(ctx, w, u, rel)
		return
	}
	if !dirOnly {
		e, err := s.cfg.Index.Lookup(ctx, rel)
		switch {
		case err == nil:
			s.redirect(w, u, e)
			return
		case errors.Is(err, store.ErrChanged):
			w.WriteHeader(gmi.StatusTemporaryFailure, "The file is being hashed; try again in a few seconds")
			return
		case !errors.Is(err, fs.ErrNotExist):
			s.log.Warn("gemini lookup failed", "path", rel, "err", err)
			w.WriteHeader(gmi.StatusTemporaryFailure, "Temporary failure")
			return
		}
	}
	if !s.listing(ctx, w, u, rel) {
		w.WriteHeader(gmi.StatusNotFound, "Not found")
	}
}

// cleanPath maps a request path to an index path: slash-separated, relative,
// no . or .. segments. dirOnly is set for the top and for paths ending in /.
func cleanPath(p string) (rel string, dirOnly bool) {
	rel = strings.TrimPrefix(path.Clean("/"+p), "/")
	return rel, rel == "" || strings.HasSuffix(p, "/")
}

// redirect answers 31 with e's rtp: URL, dropping dn if the URL would pass
// Gemini's meta limit.
func (s *Server) redirect(w gmi.ResponseWriter, u *url.URL, e store.Entry) {
	ru := rtpurl.URL{
		Hashes:  e.URNs(s.cfg.URNs),
		Length:  e.Size,
		Servers: s.servers(u.Hostname()),
		Name:    path.Base(e.Path),
	}
	meta := ru.String()
	if len(meta) > MaxMeta {
		ru.Name = ""
		meta = ru.String()
	}
	if len(meta) > MaxMeta {
		s.log.Warn("gemini: rtp: URL too long for a Gemini redirect; advertise fewer servers", "path", e.Path, "bytes", len(meta))
		w.WriteHeader(gmi.StatusTemporaryFailure, "The rtp: URL is longer than Gemini allows")
		return
	}
	w.WriteHeader(gmi.StatusPermanentRedirect, meta)
}

// servers returns the advertised dials, an unspecified host replaced by the
// host the client reached this face by. A host that cannot stand in a dial
// string drops such dials.
func (s *Server) servers(host string) []rtpurl.Dial {
	var ds []rtpurl.Dial
	for _, d := range s.cfg.Advertise {
		if ip := net.ParseIP(d.Host); ip != nil && ip.IsUnspecified() {
			d.Host = host
			if _, err := rtpurl.ParseDial(d.String()); err != nil {
				continue
			}
		}
		ds = append(ds, d)
	}
	return ds
}

// listing writes the text/gemini listing of folder rel ("" for the top)
// and reports whether it is a folder: whether anything is indexed below it.
func (s *Server) listing(ctx context.Context, w gmi.ResponseWriter, u *url.URL, rel string) bool {
	base := url.URL{Scheme: SchemeRTP, Host: u.Host}
	link := func(p string) string {
		segs := strings.Split(p, "/")
		for i, seg := range segs {
			segs[i] = url.PathEscape(seg)
		}
		if p == "" {
			return base.String() // not "/": that names the whole tree
		}
		return base.String() + "/" + strings.Join(segs, "/")
	}
	prefix := ""
	if rel != "" {
		prefix = rel + "/"
	}
	servers := s.servers(u.Hostname())
	found, lastDir := false, ""
	err := s.cfg.Index.ListUnder(ctx, rel, func(e store.Entry) error {
		if !found {
			found = true
			w.SetMediaType("text/gemini")
			fmt.Fprintf(w, "# %s\n\n", label("/"+prefix))
			if rel != "" {
				fmt.Fprintf(w, "=> %s ..\n", link(path.Dir("/" + rel)[1:]))
				if s.cfg.Trees != nil {
					fmt.Fprintf(w, "=> %s/ %s/ as one tree (rtpget fetches the folder)\n", link(rel), label(path.Base(rel)))
				}
			}
		}
		name := strings.TrimPrefix(e.Path, prefix)
		// Like most Gemini servers, list no dot-files (an index folder kept
		// inside the served one, say); they still answer by path.
		if strings.HasPrefix(name, ".") || strings.Contains(name, "/.") {
			return nil
		}
		// Entries come in path order, so a subfolder's are together.
		if dir, _, sub := strings.Cut(name, "/"); sub {
			if dir != lastDir {
				lastDir = dir
				_, err := fmt.Fprintf(w, "=> %s %s/\n", link(prefix+dir), label(dir))
				return err
			}
			return nil
		}
		ru := rtpurl.URL{Hashes: e.URNs(s.cfg.URNs), Length: e.Size, Servers: servers, Name: name}
		_, err := fmt.Fprintf(w, "=> %s %s (%d bytes)\n%s\n", link(e.Path), label(name), e.Size, ru.String())
		return err
	})
	if err != nil && ctx.Err() == nil {
		s.log.Warn("gemini listing failed", "path", rel, "err", err)
	}
	return found
}

// label makes a file name safe for a text/gemini line: control characters
// become U+FFFD, so a name with a newline cannot forge a link.
func label(name string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '\uFFFD'
		}
		return r
	}, name)
}
