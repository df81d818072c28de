package web

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/store"
)

//go:embed page.html
var pageHTML string

var pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"size": func(n any) string {
		switch n := n.(type) {
		case int64:
			return humanSize(n)
		case uint64:
			return humanSize(int64(n))
		}
		return fmt.Sprint(n)
	},
	"rate": func(r float64) string {
		if r < 0 {
			return "–"
		}
		return humanSize(int64(r)) + "/s"
	},
}).Parse(pageHTML))

// file is one row of the page.
type file struct {
	Path       string
	Size       int64
	BLAKE3     string
	SHA256     string
	RTP        template.URL // built here from hashes, dials and an escaped name
	Gemini     template.URL // the same
	Blake3Link string
	SHA256Link string
}

type pageData struct {
	Host    string
	Files   []file
	Count   int   // files, listed or not
	More    int   // files past MaxList, not listed
	Total   int64 // their bytes
	Live    liveView
	HasLive bool
	Servers []rtpurl.Dial
	Gemini  string // gemini+rtp://host[:port], or ""
	Folders []folder
}

// folder is one folder of the page, with the link to its tree's URL.
type folder struct {
	Path   string
	Tree   string // /tree/PATH/
	Gemini template.URL
}

// page serves GET /: every file the index holds (dot-files left out, as
// the Gemini face does), at most MaxList of them, rendered on the server so
// the page works without JavaScript; the script only refreshes the live
// figures and adds the copy buttons' behaviour.
func (f *Face) page(w http.ResponseWriter, r *http.Request) {
	host := requestHost(r)
	d := pageData{Host: host, Servers: f.servers(host), Gemini: f.geminiBase(host)}
	d.Live, d.HasLive = f.liveNow()
	seen := map[string]bool{} // folders listed
	err := f.cfg.Index.ListUnder(r.Context(), "", func(e store.Entry) error {
		if strings.HasPrefix(e.Path, ".") || strings.Contains(e.Path, "/.") {
			return nil
		}
		d.Total += e.Size
		d.Count++
		if f.cfg.Trees != nil && len(d.Folders) < f.cfg.MaxList {
			d.Folders = f.addFolders(d.Folders, seen, e.Path, d.Gemini)
		}
		if len(d.Files) >= f.cfg.MaxList {
			d.More++
			return nil
		}
		d.Files = append(d.Files, f.row(e, d.Servers, d.Gemini))
		return nil
	})
	if err != nil {
		f.log.Warn("http: listing failed", "err", err)
		http.Error(w, "cannot read the index", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, d); err != nil {
		f.log.Warn("http: page failed", "err", err)
		http.Error(w, "cannot render the page", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	w.Write(buf.Bytes())
}

func (f *Face) row(e store.Entry, servers []rtpurl.Dial, gemini string) file {
	u := rtpurl.URL{Hashes: e.URNs(f.cfg.URNs), Length: e.Size, Servers: servers, Name: path.Base(e.Path)}
	hs := e.Hashes() // blake3 first
	fl := file{
		Path:   e.Path,
		Size:   e.Size,
		BLAKE3: hs[0].Hex(),
		SHA256: hs[1].Hex(),
		RTP:    template.URL(u.String()),
	}
	q := "?dn=" + url.QueryEscape(path.Base(e.Path))
	fl.Blake3Link = "/blake3/" + fl.BLAKE3 + q
	fl.SHA256Link = "/sha256/" + fl.SHA256 + q
	if gemini != "" {
		fl.Gemini = template.URL(geminiName(gemini, e.Path))
	}
	return fl
}

// addFolders appends the folders of p not in seen yet.
func (f *Face) addFolders(fs []folder, seen map[string]bool, p, gemini string) []folder {
	for i := 0; i < len(p); i++ {
		if p[i] != '/' || seen[p[:i]] {
			continue
		}
		dir := p[:i]
		seen[dir] = true
		fd := folder{Path: dir + "/", Tree: (&url.URL{Path: "/tree/" + dir + "/"}).EscapedPath()}
		if gemini != "" {
			fd.Gemini = template.URL(geminiName(gemini, dir) + "/")
		}
		fs = append(fs, fd)
	}
	return fs
}

// humanSize writes n bytes in binary units, e.g. 3.0 MiB.
func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
