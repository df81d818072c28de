package gemini

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	gmi "git.sr.ht/~adnano/go-gemini"

	"github.com/rtp-project/rtp/rtpurl"
)

// statusProxyRefused is Gemini's 53: the server will not answer for a
// scheme or host it does not serve.
const statusProxyRefused = 53

// Resolver turns gemini+rtp:// and gemini:// names into rtp: URLs.
type Resolver struct {
	// KnownHosts pins each server's certificate on first use. Nil accepts
	// any certificate (rtpget -k); the rtp: URL's bytes are still verified
	// by hash, but a name's answer is then only as good as the network.
	KnownHosts *KnownHosts
	// Timeout bounds each request, from dialling to the response header.
	// Zero means 30 s.
	Timeout time.Duration
	// Log receives the 53 retry at Info and each response at Debug. Zero
	// means slog.Default().
	Log *slog.Logger
}

// Resolve sends name as a Gemini request and follows 30 and 31 redirects,
// at most MaxRedirects of them, until one names an rtp: URL. It returns
// that URL as the server wrote it, and parsed.
//
// A server that answers 53 (no proxying) to a gemini+rtp:// request is
// asked once more with the same name as gemini://. A redirect to anything
// but an rtp: URL or another Gemini name fails with ErrNotRTP; any other
// status with a *StatusError.
func (r *Resolver) Resolve(ctx context.Context, name string) (string, *rtpurl.URL, error) {
	cur, err := ParseName(name)
	if err != nil {
		return "", nil, err
	}
	log := r.Log
	if log == nil {
		log = slog.Default()
	}
	for redirects := 0; ; {
		status, meta, err := r.request(ctx, cur)
		if err != nil {
			return "", nil, fmt.Errorf("%s: %w", cur, err)
		}
		log.Debug("gemini response", "name", cur.String(), "status", status, "meta", meta)
		switch {
		case status == statusProxyRefused && cur.Scheme == SchemeRTP:
			next := *cur
			next.Scheme = SchemeGemini
			log.Info("the server refuses gemini+rtp:// requests; asking again as gemini://",
				"name", cur.String(), "status", status, "meta", meta, "retry", next.String())
			cur = &next
			continue
		case status/10 != 3:
			return "", nil, &StatusError{Name: cur.String(), Status: status, Meta: meta}
		}
		redirects++
		if strings.HasPrefix(meta, "rtp:") {
			u, err := rtpurl.Parse(meta)
			if err != nil {
				return "", nil, fmt.Errorf("%s redirects to a bad rtp: URL: %w", cur, err)
			}
			return meta, u, nil
		}
		next, err := cur.Parse(meta)
		if err != nil || (next.Scheme != SchemeRTP && next.Scheme != SchemeGemini) {
			return "", nil, fmt.Errorf("%s redirects to %.200q: %w; refused", cur, meta, ErrNotRTP)
		}
		if redirects >= MaxRedirects {
			return "", nil, fmt.Errorf("%s: %w: stopped after %d, the last to %.200q", name, ErrTooManyRedirects, redirects, meta)
		}
		if err := checkName(next); err != nil {
			return "", nil, fmt.Errorf("%s redirects to %w", cur, err)
		}
		cur = next
	}
}

// request sends one Gemini request and returns the response header.
func (r *Resolver) request(ctx context.Context, u *url.URL) (int, string, error) {
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	key := hostKey(u)
	c := &gmi.Client{
		// Gemini servers present self-signed certificates: go-gemini skips
		// the CA and host-name checks and leaves trust to this callback.
		TrustCertificate: func(_ string, cert *x509.Certificate) error {
			if r.KnownHosts == nil {
				return nil
			}
			return r.KnownHosts.Check(key, cert)
		},
	}
	resp, err := c.Do(ctx, &gmi.Request{URL: u, Host: hostPort(u)})
	if err != nil {
		var cc *CertChangedError
		switch {
		case errors.As(err, &cc):
			return 0, "", cc
		case errors.Is(err, context.DeadlineExceeded):
			return 0, "", fmt.Errorf("no response within %v", timeout)
		}
		return 0, "", err
	}
	resp.Body.Close()
	return int(resp.Status), resp.Meta, nil
}
