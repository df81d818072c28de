package gemini

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"git.sr.ht/~adnano/go-gemini/tofu"
)

// KnownHosts pins Gemini servers' certificates on first use. The file holds
// one "host sha256 BASE64" line per server (go-gemini's tofu format, as
// other Gemini clients write it); host is the name's host, with :port when
// the port is not 1965. A line is added the first time a server is seen;
// after that only that certificate is accepted until the line is deleted.
type KnownHosts struct {
	path  string
	mu    sync.Mutex
	hosts tofu.KnownHosts
}

// DefaultKnownHosts returns $XDG_CONFIG_HOME/rtpget/known_hosts, else the
// same under os.UserConfigDir.
func DefaultKnownHosts() (string, error) {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if !filepath.IsAbs(dir) {
		var err error
		if dir, err = os.UserConfigDir(); err != nil {
			return "", fmt.Errorf("known hosts: %w", err)
		}
	}
	return filepath.Join(dir, "rtpget", "known_hosts"), nil
}

// OpenKnownHosts reads the known-hosts file at path ("" for
// DefaultKnownHosts). A missing file is an empty list; it is created on the
// first pin.
func OpenKnownHosts(path string) (*KnownHosts, error) {
	if path == "" {
		var err error
		if path, err = DefaultKnownHosts(); err != nil {
			return nil, err
		}
	}
	k := &KnownHosts{path: path}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return k, nil
	}
	if err != nil {
		return nil, fmt.Errorf("known hosts: %w", err)
	}
	defer f.Close()
	if err := k.hosts.Parse(f); err != nil {
		return nil, fmt.Errorf("known hosts %s: %w", path, err)
	}
	return k, nil
}

// Path returns the file's name.
func (k *KnownHosts) Path() string { return k.path }

// Check accepts cert for host if host's line pins it, or if host has no
// line yet, in which case it appends one. A different certificate fails
// with a *CertChangedError that names the file to edit.
func (k *KnownHosts) Check(host string, cert *x509.Certificate) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	got := tofu.NewHost(host, cert.Raw)
	if known, ok := k.hosts.Lookup(host); ok {
		if known.Fingerprint == got.Fingerprint && known.Algorithm == got.Algorithm {
			return nil
		}
		sum := sha256.Sum256(cert.Raw)
		return &CertChangedError{Host: host, File: k.path, Got: hex.EncodeToString(sum[:])}
	}
	if err := os.MkdirAll(filepath.Dir(k.path), 0o700); err != nil {
		return fmt.Errorf("known hosts: %w", err)
	}
	f, err := os.OpenFile(k.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("known hosts: %w", err)
	}
	_, err = f.WriteString(got.String() + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("known hosts %s: %w", k.path, err)
	}
	k.hosts.Add(got)
	return nil
}
