package main

import (
	"context"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/rtp-project/rtp/rtpurl"
)

// file is one random file every server serves.
type file struct {
	Name string
	Path string
	Size int64
	SHA  string      // sha256, hex
	url  *rtpurl.URL // from rtpd url; servers replaced per run
}

// makeFile writes size random bytes (ChaCha8, randomly seeded: no tool
// can compress or dedupe them) into dir, once per size.
func makeFile(dir string, size int64) (*file, error) {
	name := fmt.Sprintf("wb-%d.bin", size)
	if size%(1<<20) == 0 {
		name = fmt.Sprintf("wb-%dMiB.bin", size>>20)
	}
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	var seed [32]byte
	crand.Read(seed[:])
	src := rand.NewChaCha8(seed)
	h := sha256.New()
	buf := make([]byte, 1<<20)
	w := io.MultiWriter(f, h)
	for left := size; left > 0; left -= int64(len(buf)) {
		p := buf[:min(left, int64(len(buf)))]
		src.Read(p)
		if _, err := w.Write(p); err != nil {
			f.Close()
			return nil, err
		}
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o644); err != nil {
		return nil, err
	}
	return &file{Name: name, Path: path, Size: size, SHA: hex.EncodeToString(h.Sum(nil))}, nil
}

// addURL asks rtpd url for the file's rtp: URL and checks it names the
// sha256 we wrote (unless the URL names blake3 only).
func (f *file) addURL(ctx context.Context, rtpd, hash string) error {
	out, err := exec.CommandContext(ctx, rtpd, "url", "--hash", hash, "--server", "tcp!127.0.0.1!1", f.Path).Output()
	if err != nil {
		return fmt.Errorf("rtpd url %s: %w", f.Path, err)
	}
	s := strings.TrimSpace(string(out))
	u, err := rtpurl.Parse(s)
	if err != nil {
		return fmt.Errorf("rtpd url printed %q: %w", s, err)
	}
	if hash != "blake3" && !strings.Contains(s, f.SHA) {
		return fmt.Errorf("rtpd url %s names another sha256 than the one written: %s", f.Path, s)
	}
	f.url = u
	return nil
}

// rtpURL is the file's URL listing servers 1..n over proto (tcp, tls,
// quic), or over each of several joined by "+" ("quic+tcp": every server
// twice, QUIC first, as a publisher offering both would list them).
func (f *file) rtpURL(proto string, n int) string {
	u := *f.url
	u.Servers = nil
	for _, p := range strings.Split(proto, "+") {
		for i := 1; i <= n; i++ {
			port := portTLS
			if p == rtpurl.TCP {
				port = portRTP
			}
			u.Servers = append(u.Servers, rtpurl.Dial{Proto: p, Host: serverIP(i).String(), Port: port})
		}
	}
	return u.String()
}

// httpURLs are the file's URLs on servers 1..n's nginx.
func (f *file) httpURLs(n int) []string {
	var out []string
	for i := 1; i <= n; i++ {
		out = append(out, fmt.Sprintf("http://%s:%d/%s", serverIP(i), portHTTP, f.Name))
	}
	return out
}

// sha256File returns the sha256 of the file at path, in hex.
func sha256File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
