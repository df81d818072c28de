package store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/rtp-project/rtp/server"
	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/urn"
)

// TestSecondDiskServesNoStateOfTheFirst is two rtpds on one folder: the
// first keeps its index, its large trees and its self-signed certificate
// and key inside the folder (by default in .rtpd, or in a folder given
// with --index), the second keeps its index elsewhere. The second must
// serve none of the first's files, by path or by hash, wherever the first
// put them, even when told to serve hidden files, and even when the first
// is an older rtpd that wrote no marker.
func TestSecondDiskServesNoStateOfTheFirst(t *testing.T) {
	for _, c := range []struct {
		name     string
		index    string // the first one's, in the folder
		noMarker bool   // as an rtpd that wrote none left it
	}{
		{"default .rtpd", "", false},
		{"index in a plain folder", "state/index.db", false},
		{"index with its own name", "state/rtpd.bolt", false},
		{"older rtpd, index.db", "state/index.db", true},
		{"older rtpd, own name, its certificate", "state/rtpd.bolt", true},
	} {
		for _, hidden := range []bool{false, true} {
			name := c.name
			if hidden {
				name += ", hidden served"
			}
			t.Run(name, func(t *testing.T) {
				blobs := t.TempDir()
				data := make([]byte, 17<<20) // a tree of its own file
				for i := range data {
					data[i] = byte(i * 7)
				}
				if err := os.WriteFile(filepath.Join(blobs, "film.bin"), data, 0o644); err != nil {
					t.Fatal(err)
				}
				idx := c.index
				if idx != "" {
					idx = filepath.Join(blobs, idx)
				}
				first, err := store.OpenDisk(blobs, store.Options{Index: idx})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := first.Scan(context.Background()); err != nil {
					t.Fatal(err)
				}
				if _, _, err := server.LoadOrCreateCert("", "", first.IndexDir()); err != nil {
					t.Fatal(err)
				}
				state := first.IndexDir()
				first.Close()
				if c.noMarker {
					os.Remove(filepath.Join(state, store.MarkerName))
				}
				var secret []string // every file of the first's state
				filepath.WalkDir(state, func(p string, de fs.DirEntry, err error) error {
					if err == nil && de.Type().IsRegular() {
						secret = append(secret, p)
					}
					return nil
				})
				if !slices.ContainsFunc(secret, func(p string) bool { return filepath.Ext(filepath.Dir(p)) == ".trees" }) {
					t.Fatalf("the first kept no tree file: %v", secret)
				}
				for _, want := range []string{"key.pem", "cert.pem", filepath.Base(orDefault(c.index))} {
					if !slices.ContainsFunc(secret, func(p string) bool { return filepath.Base(p) == want }) {
						t.Fatalf("the first left no %s in %s: %v", want, state, secret)
					}
				}

				second, err := store.OpenDisk(blobs, store.Options{Index: filepath.Join(t.TempDir(), "state-b", "index.db"), Hidden: hidden})
				if err != nil {
					t.Fatal(err)
				}
				defer second.Close()
				if _, err := second.Scan(context.Background()); err != nil {
					t.Fatal(err)
				}
				var listed []string
				second.List(context.Background(), func(e store.Entry) error { listed = append(listed, e.Path); return nil })
				if !slices.Equal(listed, []string{"film.bin"}) {
					t.Errorf("the second lists %q, want only film.bin", listed)
				}
				for _, p := range secret {
					b, err := os.ReadFile(p)
					if err != nil {
						t.Fatal(err)
					}
					rel, _ := filepath.Rel(blobs, p)
					if blob, err := second.Open(context.Background(), urn.New(urn.SHA256, sha256.Sum256(b))); !errors.Is(err, fs.ErrNotExist) {
						if err == nil {
							blob.Close()
						}
						t.Errorf("%s by hash: %v, want not found", rel, err)
					}
					if _, err := second.Lookup(context.Background(), filepath.ToSlash(rel)); !errors.Is(err, fs.ErrNotExist) {
						t.Errorf("%s by path: %v, want not found", rel, err)
					}
				}
			})
		}
	}
}

func orDefault(idx string) string {
	if idx == "" {
		return "index.db"
	}
	return idx
}

// TestTLSFilesNeverServed: the certificate and key given to rtpd with
// --tls-cert and --tls-key, kept in the served folder under names no rule
// knows, are not served, nor a hard link to the certificate; the key is
// also caught by its content.
func TestTLSFilesNeverServed(t *testing.T) {
	blobs := t.TempDir()
	tmp := t.TempDir()
	if _, _, err := server.LoadOrCreateCert("", "", tmp); err != nil {
		t.Fatal(err)
	}
	certPEM, _ := os.ReadFile(filepath.Join(tmp, "cert.pem"))
	keyPEM, _ := os.ReadFile(filepath.Join(tmp, "key.pem"))
	if blk, _ := pem.Decode(certPEM); blk == nil {
		t.Fatal("no certificate")
	} else if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
		t.Fatal(err)
	}
	crt, key := filepath.Join(blobs, "site", "www.crt"), filepath.Join(blobs, "site", "www.k")
	os.MkdirAll(filepath.Dir(crt), 0o755)
	os.WriteFile(crt, certPEM, 0o644)
	os.WriteFile(key, keyPEM, 0o600)
	if err := os.Link(crt, filepath.Join(blobs, "copy.crt")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(blobs, "other.crt"), bytes.Clone(certPEM), 0o644) // a copy: another file
	d, err := store.OpenDisk(blobs, store.Options{Index: filepath.Join(tmp, "i", "index.db"), Private: []string{crt, key}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	st, err := d.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	d.List(context.Background(), func(e store.Entry) error { listed = append(listed, e.Path); return nil })
	if !slices.Equal(listed, []string{"other.crt"}) || st.Skipped != 3 {
		t.Errorf("listed %q, %d skipped; want only other.crt (a copy no flag names), 3 skipped", listed, st.Skipped)
	}
}
