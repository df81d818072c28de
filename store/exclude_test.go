package store

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.etcd.io/bbolt"
)

const (
	ecKey      = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB...\n-----END EC PRIVATE KEY-----\n"
	sshKey     = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"
	pgpKey     = "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF...\n-----END PGP PRIVATE KEY BLOCK-----\n"
	publicKey  = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n"
	talkOfKeys = "Never mail a file that says PRIVATE KEY in it.\n"
)

// TestWhatIsServed is the table of what a scan serves, by default and with
// Options.Hidden; rtpd's state and private keys are never served.
func TestWhatIsServed(t *testing.T) {
	big := strings.Repeat("x", maxKeyFile) + ecKey // too big to be a key file
	rows := []struct {
		path, data     string
		served, hidden bool // served by default; served with Hidden
	}{
		{"a.txt", "plain", true, true},
		{"sub/b.iso", "plain", true, true},
		{"public.pem", publicKey, true, true},
		{"talk.txt", talkOfKeys, true, true},
		{"big-with-key.txt", big, true, true},
		{".env", "SECRET=1", false, true},
		{".git/config", "[core]", false, true},
		{"sub/.cache/x", "x", false, true},
		{"film.iso.part", "partial", false, true},
		{"film.iso.part.state", "state", false, true},
		{"x.crdownload", "partial", false, true},
		{"notes.txt~", "backup", false, true},
		{"#notes.txt#", "autosave", false, true},
		{"#", "just a hash sign", true, true},
		{"keys/server.key", ecKey, false, false},
		{"keys/id_ed25519", sshKey, false, false},
		{"keys/secring.asc", pgpKey, false, false},
		{"bundle.pem", publicKey + ecKey, false, false},
		{".ssh/id_ed25519", sshKey, false, false},
		{".rtpd/index.db", "not even bbolt", false, false},
		{"deep/.rtpd/x", "x", false, false},
		{"state/" + MarkerName, "", false, false},
		{"state/data", "in a marked folder", false, false},
		{"marked/deeper/data", "below a marked folder", false, false},
		{"marked/" + MarkerName, "", false, false},
	}
	for _, hidden := range []bool{false, true} {
		// All rows' files in one folder, so that each rule is checked
		// against the others (a marker must not hide a sibling).
		dir := t.TempDir()
		for _, r := range rows {
			write(t, filepath.Join(dir, filepath.FromSlash(r.path)), []byte(r.data+"\n"+r.path))
		}
		d, err := OpenDisk(dir, Options{Index: filepath.Join(t.TempDir(), "index.db"), Hidden: hidden})
		if err != nil {
			t.Fatal(err)
		}
		scan(t, d)
		for _, c := range rows {
			want := c.served
			if hidden {
				want = c.hidden
			}
			_, err = d.Lookup(context.Background(), c.path)
			got := err == nil
			b, oerr := readAll(d, sha([]byte(c.data+"\n"+c.path)))
			if got != want || (oerr == nil) != want {
				t.Errorf("%s (hidden %v): served by path %v (%v), by hash %v (%v, %.20q); want %v", c.path, hidden, got, err, oerr == nil, oerr, b, want)
			}
			if !want && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s (hidden %v): Lookup says %v, want not found (not \"soon\")", c.path, hidden, err)
			}
		}
		d.Close()
	}
}

// TestSymlinksToWhatIsNeverServed: a symlink serves its target's bytes, so
// it is served only if its target would be.
func TestSymlinksToWhatIsNeverServed(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "keys", "server.key"), []byte(ecKey))
	write(t, filepath.Join(dir, ".env"), []byte("SECRET=1"))
	write(t, filepath.Join(dir, "state", MarkerName), nil)
	write(t, filepath.Join(dir, "state", "index.db"), []byte("the index"))
	write(t, filepath.Join(dir, "pub", "a.txt"), []byte("public"))
	for link, target := range map[string]string{
		"key":   "keys/server.key",
		"env":   ".env",
		"index": "state/index.db",
		"a":     "pub/a.txt",
	} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	d := openDiskAt(t, dir, Options{})
	scan(t, d)
	var listed []string
	d.List(context.Background(), func(e Entry) error { listed = append(listed, e.Path); return nil })
	if want := []string{"a", "pub/a.txt"}; !slices.Equal(listed, want) {
		t.Errorf("listed %q, want %q", listed, want)
	}
	for _, p := range []string{"key", "env", "index"} {
		if _, err := d.Lookup(context.Background(), p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: %v, want not found", p, err)
		}
	}
}

// TestIndexDropsWhatIsNoLongerServed: an index holds files that rules now
// keep out (written under other Options, before a marker appeared, or by
// an older rtpd that served private keys); the next Scan drops them, so
// they are served neither by hash nor by path.
func TestIndexDropsWhatIsNoLongerServed(t *testing.T) {
	dir := t.TempDir()
	index := filepath.Join(t.TempDir(), "index.db")
	write(t, filepath.Join(dir, "a.txt"), []byte("plain"))
	write(t, filepath.Join(dir, ".env"), []byte("SECRET=1"))
	write(t, filepath.Join(dir, "state", "data"), []byte("soon in a marked folder"))

	d := openDiskAt(t, dir, Options{Index: index, Hidden: true})
	if st := scan(t, d); st.Files != 3 {
		t.Fatalf("%+v, want 3 files", st)
	}
	d.Close()

	// Served without Hidden: .env goes. Another rtpd then puts its index
	// in state/: state/data goes.
	d = openDiskAt(t, dir, Options{Index: index})
	if st := scan(t, d); st.Files != 2 || st.Removed != 1 {
		t.Errorf("without Hidden: %+v, want 2 files, 1 removed", st)
	}
	other := openDiskAt(t, dir, Options{Index: filepath.Join(dir, "state", "index.db")})
	other.Close()
	if st := scan(t, d); st.Files != 1 || st.Removed != 1 {
		t.Errorf("after another rtpd's index came: %+v, want 1 file, 1 removed", st)
	}

	// An index an older rtpd wrote, holding a key it served: the entry is
	// put back as that rtpd wrote it, with the rules version it lacked.
	key := filepath.Join(dir, "tls", "server.key")
	write(t, key, []byte(ecKey))
	fi, err := os.Stat(key)
	if err != nil {
		t.Fatal(err)
	}
	err = d.db.Update(func(tx *bbolt.Tx) error {
		e := Entry{Path: "tls/server.key", Size: fi.Size(), SHA256: sha([]byte(ecKey)).Sum, BLAKE3: b3([]byte(ecKey)).Sum, stat: statOf(fi), tree: true}
		if err := putEntry(tx, &e, nil); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Delete([]byte("rules"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := readAll(d, sha([]byte(ecKey))); err != nil {
		t.Fatalf("the old entry does not serve: %v; the test tests nothing", err)
	}
	if st := scan(t, d); st.Files != 1 || st.Removed != 1 {
		t.Errorf("after the old index: %+v, want 1 file, 1 removed", st)
	}
	for _, b := range [][]byte{[]byte(ecKey), []byte("SECRET=1"), []byte("soon in a marked folder")} {
		if got, err := readAll(d, sha(b)); err == nil {
			t.Errorf("%q still served", got)
		}
	}
	if got, err := readAll(d, sha([]byte("plain"))); err != nil || !bytes.Equal(got, []byte("plain")) {
		t.Errorf("a.txt: %q, %v", got, err)
	}
}

func openDiskAt(t *testing.T, dir string, opts Options) *Disk {
	t.Helper()
	if opts.Index == "" {
		opts.Index = filepath.Join(t.TempDir(), "index.db")
	}
	d, err := OpenDisk(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestHoldsPrivateKey(t *testing.T) {
	for s, want := range map[string]bool{
		ecKey: true, sshKey: true, pgpKey: true, "-----BEGIN PRIVATE KEY-----": true,
		"-----BEGIN ENCRYPTED PRIVATE KEY-----\n": true,
		publicKey: false, talkOfKeys: false, "": false,
		"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\nPRIVATE KEY-----": false,
	} {
		if got := holdsPrivateKey([]byte(s)); got != want {
			t.Errorf("%q: %v, want %v", s, got, want)
		}
	}
}
