package gemini

import (
	"bufio"
	"context"
	"io"
	"io/fs"
	"net"
	"net/url"
	"path"
	"strings"
	"testing"
	"time"

	gmi "git.sr.ht/~adnano/go-gemini"

	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/store"
)

// memIndex is a PathIndex over a few entries, for the fuzz target.
type memIndex []store.Entry

func (m memIndex) Lookup(_ context.Context, p string) (store.Entry, error) {
	for _, e := range m {
		if e.Path == p {
			return e, nil
		}
	}
	return store.Entry{}, fs.ErrNotExist
}

func (m memIndex) ListUnder(_ context.Context, dir string, fn func(store.Entry) error) error {
	for _, e := range m {
		if dir == "" || strings.HasPrefix(e.Path, dir+"/") {
			if err := fn(e); err != nil {
				return err
			}
		}
	}
	return nil
}

// FuzzServeGemini sends any request line to the face over a file of any
// name, through go-gemini's request reader and response writer, and checks
// that what comes back is one well-formed Gemini response: a redirect to an
// rtp: URL that parses, or a listing whose every link is a gemini+rtp://
// name on the host asked for.
func FuzzServeGemini(f *testing.F) {
	f.Add("gemini+rtp://localhost:1965/a/b.iso", "a/b.iso")
	f.Add("gemini://localhost/a/", "a/b.iso")
	f.Add("gemini://[::1]:7000/", "x y/%2F\n=> gemini://evil/ ok")
	f.Add("gemini://h/../../etc/passwd", "etc/passwd")
	f.Add("https://h/", "a")
	f.Add("gemini://u@h/", "a")
	f.Add("gemini://h/"+strings.Repeat("é", 600), strings.Repeat("é", 300))
	f.Fuzz(func(t *testing.T, line, name string) {
		name = strings.Trim(path.Clean("/"+name), "/")
		if name == "" || strings.ContainsRune(line, '\n') {
			return
		}
		idx := memIndex{{Path: name, Size: 1}, {Path: "z/other", Size: 2}}
		s := NewServer(ServerConfig{Index: idx, Advertise: []rtpurl.Dial{{Proto: rtpurl.TCP, Host: "::", Port: 7777}}})
		c1, c2 := net.Pipe()
		defer c2.Close()
		go s.gem.ServeConn(context.Background(), c1)
		go func() { io.WriteString(c2, line+"\r\n") }()
		c2.SetDeadline(time.Now().Add(2 * time.Second))
		resp, err := gmi.ReadResponse(c2)
		if err != nil {
			t.Fatalf("%q %q: response does not parse: %v", line, name, err)
		}
		defer resp.Body.Close()
		switch resp.Status.Class() {
		case gmi.StatusRedirect:
			u, err := rtpurl.Parse(resp.Meta)
			if err != nil || strings.Contains(u.Name, "/") {
				t.Fatalf("%q: redirect to %q: %+v, %v", line, resp.Meta, u, err)
			}
		case gmi.StatusSuccess:
			req, _ := url.Parse(line)
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				text, ok := strings.CutPrefix(sc.Text(), "=> ")
				if strings.ContainsRune(sc.Text(), '\r') {
					t.Fatalf("%q: CR in listing line %q", line, sc.Text())
				}
				if !ok {
					continue
				}
				target, _, _ := strings.Cut(text, " ")
				lu, err := url.Parse(target)
				if err != nil || lu.Scheme != SchemeRTP || lu.Host != req.Host {
					t.Fatalf("%q: listing link %q: %v", line, sc.Text(), err)
				}
			}
		}
		if rel, _ := cleanPath(req(line)); strings.HasPrefix(rel, "/") || rel == ".." || strings.HasPrefix(rel, "../") || strings.Contains(rel, "/../") {
			t.Fatalf("%q: cleanPath gives %q", line, rel)
		}
	})
}

// req returns the path of a request line, or "".
func req(line string) string {
	u, err := url.Parse(line)
	if err != nil {
		return ""
	}
	return u.Path
}
