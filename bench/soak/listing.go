package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"html"
	"net/url"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/urn"
)

// listed is one row of the HTTP face's page.
type listed struct {
	sha256 [32]byte
	size   int64
	url    string // its rtp: URL
}

var (
	rowRE    = regexp.MustCompile(`<tr class="file" data-path="([^"]*)">`)
	sizeRE   = regexp.MustCompile(`data-bytes="(\d+)"`)
	shaRE    = regexp.MustCompile(`href="/sha256/([0-9a-f]{64})`)
	rtpURLRE = regexp.MustCompile(`class="rtp-url" href="([^"]*)"`)
)

// listing fetches the HTTP face's page and returns its files by path.
func listing(ctx context.Context, httpAddr string) (map[string]listed, error) {
	b, err := get(ctx, "http://"+httpAddr+"/")
	if err != nil {
		return nil, err
	}
	return parseListing(b)
}

func parseListing(b []byte) (map[string]listed, error) {
	out := make(map[string]listed)
	locs := rowRE.FindAllSubmatchIndex(b, -1)
	for i, loc := range locs {
		end := len(b)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		row := b[loc[1]:end]
		p := html.UnescapeString(string(b[loc[2]:loc[3]]))
		sz, sh, ru := sizeRE.FindSubmatch(row), shaRE.FindSubmatch(row), rtpURLRE.FindSubmatch(row)
		if sz == nil || sh == nil || ru == nil {
			return nil, fmt.Errorf("listing: the row of %q lacks a size, a sha256 link or an rtp: URL", p)
		}
		var e listed
		e.size, _ = strconv.ParseInt(string(sz[1]), 10, 64)
		hex.Decode(e.sha256[:], sh[1])
		e.url = html.UnescapeString(string(ru[1]))
		out[p] = e
	}
	if len(locs) == 0 && !bytes.Contains(b, []byte("No files yet")) {
		return nil, fmt.Errorf("listing: no file rows in the page (%d bytes)", len(b))
	}
	return out, nil
}

// geminiName is the gemini+rtp:// name of path on rtpd's Gemini face.
func geminiName(geminiAddr, path string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return "gemini+rtp://" + geminiAddr + "/" + strings.Join(segs, "/")
}

// resolve asks rtpd's Gemini face for the rtp: URL of path, with the real
// rtpget --resolve. A miss (being hashed, not found) is an error.
func (s *soak) resolve(ctx context.Context, path string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.rtpget, "--resolve", "-k", "--stall", "10s", geminiName(s.geminiAddr, path))
	cmd.Env = s.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%v: %s", err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// sha256Of returns the URL's sha256, parsed.
func sha256Of(raw string) (*rtpurl.URL, [32]byte, error) {
	u, err := rtpurl.Parse(raw)
	if err != nil {
		return nil, [32]byte{}, err
	}
	for _, h := range u.Hashes {
		if h.Kind == urn.SHA256 {
			return u, h.Sum, nil
		}
	}
	return nil, [32]byte{}, fmt.Errorf("%s: no urn:sha256", raw)
}
