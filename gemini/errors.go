package gemini

import (
	"errors"
	"fmt"
)

var (
	// ErrBadName is wrapped by ParseName's errors.
	ErrBadName = errors.New("bad gemini name")
	// ErrTooManyRedirects means a name was still redirecting to another
	// Gemini name after MaxRedirects redirects.
	ErrTooManyRedirects = errors.New("too many redirects")
	// ErrNotRTP means a redirect pointed at something that is neither an
	// rtp: URL nor another Gemini name.
	ErrNotRTP = errors.New("redirect target is not an rtp: URL")
	// ErrCertChanged is wrapped by a CertChangedError.
	ErrCertChanged = errors.New("server certificate changed")
)

// StatusError is a response that is neither a redirect nor the 53 that
// Resolve retries.
type StatusError struct {
	Name   string // the name that was requested
	Status int
	Meta   string
}

func (e *StatusError) Error() string {
	hint := ""
	switch {
	case e.Status/10 == 2:
		hint = " (a page, perhaps a folder listing, not a redirect to an rtp: URL)"
	case e.Status == 51:
		hint = " (not found)"
	}
	return fmt.Sprintf("%s: status %d %q%s", e.Name, e.Status, e.Meta, hint)
}

// CertChangedError is a server whose certificate is not the one its
// known-hosts line pins.
type CertChangedError struct {
	Host string // the known-hosts key: host, or host:port
	File string // the known-hosts file
	Got  string // the offered certificate's SHA-256, hex
}

func (e *CertChangedError) Error() string {
	return fmt.Sprintf("the certificate of %s (sha256 %s) is not the one trusted on first use; if the server really has a new certificate, delete the line for %s from %s, or use -k",
		e.Host, e.Got, e.Host, e.File)
}

func (e *CertChangedError) Unwrap() error { return ErrCertChanged }
