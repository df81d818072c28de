package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"lukechampine.com/blake3"

	"github.com/rtp-project/rtp/collection"
	"github.com/rtp-project/rtp/internal/rtpdtest"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/urn"
)

// sClient sends one Gemini request line with openssl s_client, a client
// nobody here wrote, and returns what the server answered.
func sClient(t *testing.T, port int, line string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "openssl", "s_client", "-quiet", "-connect", fmt.Sprintf("127.0.0.1:%d", port), "-servername", "localhost")
	cmd.Stdin = strings.NewReader(line + "\r\n")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil && stdout.Len() == 0 {
		t.Fatalf("openssl s_client %s: %v\n%s", line, err, stderr.String())
	}
	return stdout.String()
}

func randomFile(t *testing.T, name string, n int) []byte {
	t.Helper()
	data := make([]byte, n)
	rand.Read(data)
	os.MkdirAll(filepath.Dir(name), 0o755)
	// Replace by rename, as a publisher would.
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, name); err != nil {
		t.Fatal(err)
	}
	return data
}

// TestGeminiFace is the acceptance 2: rtpd's Gemini face, asked
// with openssl s_client, answers 31 with the file's rtp: URL and 20 with a
// listing; rtpget resolves the name and downloads through it; once the file
// at the path is replaced, the same name yields the new hash.
func TestGeminiFace(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl is needed for this test (Debian package openssl)")
	}
	blobs := t.TempDir()
	film := filepath.Join(blobs, "pub", "film.bin")
	data := randomFile(t, film, 3<<20)
	os.WriteFile(filepath.Join(blobs, "pub", "readme.txt"), []byte("hello\n"), 0o644)
	s := rtpdtest.Start(t, blobs, "--index", filepath.Join(t.TempDir(), "index.db"),
		"--listen", "tcp!127.0.0.1!0", "--gemini", "tcp!127.0.0.1!0", "--rescan", "1s")
	gd, err := rtpurl.ParseDial(s.Gemini[0])
	if err != nil {
		t.Fatal(err)
	}
	gport := gd.Port
	name := fmt.Sprintf("gemini+rtp://localhost:%d/pub/film.bin", gport)

	out := sClient(t, gport, name)
	meta, ok := strings.CutPrefix(out, "31 ")
	if !ok || !strings.HasSuffix(meta, "\r\n") {
		t.Fatalf("s_client %s: %q, want 31 rtp:…", name, out)
	}
	meta = strings.TrimSuffix(meta, "\r\n")
	u, err := rtpurl.Parse(meta)
	if err != nil {
		t.Fatal(err)
	}
	if want := hashesOf(data)[:1]; fmt.Sprint(u.Hashes) != fmt.Sprint(want) || u.Length != int64(len(data)) || u.Name != "film.bin" {
		t.Errorf("31 %s: want hashes %v, l=%d, dn=film.bin", meta, want, len(data))
	}
	if len(u.Servers) != 1 || u.Servers[0].String() != s.Dials[0] {
		t.Errorf("31 %s: want s=%s", meta, s.Dials[0])
	}
	t.Logf("s_client %s -> 31 %s", name, meta)

	list := sClient(t, gport, fmt.Sprintf("gemini://localhost:%d/pub/", gport))
	wantLink := fmt.Sprintf("=> %s film.bin (%d bytes)\n%s\n", name, len(data), meta)
	if !strings.HasPrefix(list, "20 text/gemini\r\n") || !strings.Contains(list, wantLink) || !strings.Contains(list, "/pub/readme.txt readme.txt (6 bytes)\n") {
		t.Errorf("listing:\n%s\nwant a link %q", list, wantLink)
	}
	t.Logf("s_client gemini://localhost:%d/pub/ ->\n%s", gport, list)
	treeName := fmt.Sprintf("gemini+rtp://localhost:%d/pub/", gport)
	if got := sClient(t, gport, treeName); !strings.HasPrefix(got, "30 rtp:") || !strings.Contains(got, "&t=application%2Fvnd.rtp.collection") && !strings.Contains(got, "&t=application/vnd.rtp.collection") {
		t.Errorf("%s: %q, want 30 and the tree's rtp: URL", treeName, got)
	}
	if got := sClient(t, gport, fmt.Sprintf("gemini://localhost:%d/pub/nope", gport)); !strings.HasPrefix(got, "51 ") {
		t.Errorf("unknown path: %q, want 51", got)
	}

	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	stdout, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, "--resolve", name)
	if code != 0 || strings.TrimSpace(stdout) != meta {
		t.Fatalf("rtpget --resolve: exit %d, %q %s; want %s", code, stdout, stderr, meta)
	}
	checkTreeName(t, treeName, map[string][]byte{"film.bin": data, "readme.txt": []byte("hello\n")})
	dest := filepath.Join(t.TempDir(), "film.bin")
	if _, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, "-q", "-o", dest, name); code != 0 {
		t.Fatalf("rtpget %s: exit %d: %s", name, code, stderr)
	}
	if got, _ := os.ReadFile(dest); !bytes.Equal(got, data) {
		t.Fatal("download through the Gemini face differs")
	}

	// Replace the file: the name follows once rtpd has hashed the new bytes.
	newData := randomFile(t, film, 2<<20)
	start := time.Now()
	var newMeta string
	var sawChanged bool
	for deadline := start.Add(30 * time.Second); newMeta == ""; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the name still resolves to the old hash 30 s after the file was replaced\n%s", s.Log())
		}
		stdout, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, "--resolve", name)
		switch {
		case code == 1 && strings.Contains(stderr, "status 40"):
			sawChanged = true
		case code != 0:
			t.Fatalf("rtpget --resolve after the replace: exit %d: %s", code, stderr)
		case strings.TrimSpace(stdout) != meta:
			newMeta = strings.TrimSpace(stdout)
		}
	}
	t.Logf("after the replace the name resolved to the new hash in %v (a 40 answer seen first: %v)", time.Since(start).Round(time.Millisecond), sawChanged)
	nu, err := rtpurl.Parse(newMeta)
	if err != nil || fmt.Sprint(nu.Hashes) != fmt.Sprint(hashesOf(newData)[:1]) || nu.Length != int64(len(newData)) {
		t.Fatalf("after the replace: %s (%v), want hashes %v", newMeta, err, hashesOf(newData)[:1])
	}
	os.Remove(dest)
	if _, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, "-q", "-o", dest, name); code != 0 {
		t.Fatalf("rtpget after the replace: exit %d: %s", code, stderr)
	}
	if got, _ := os.ReadFile(dest); !bytes.Equal(got, newData) {
		t.Fatal("download after the replace differs from the new file")
	}
}

// checkTreeName resolves a folder's gemini+rtp:// name with rtpget, fetches
// the manifest it names as a plain file from rtpd, and checks that it lists
// files, and only them, with their hashes.
func checkTreeName(t *testing.T, name string, files map[string][]byte) {
	t.Helper()
	stdout, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, "--resolve", name)
	if code != 0 {
		t.Fatalf("rtpget --resolve %s: exit %d: %s", name, code, stderr)
	}
	u, err := rtpurl.Parse(strings.TrimSpace(stdout))
	if err != nil || !collection.IsCollection(u.Types) || u.Name != "pub" {
		t.Fatalf("%s resolves to %s (%v), want a collection named pub", name, stdout, err)
	}
	plain := *u
	plain.Types = nil
	dest := filepath.Join(t.TempDir(), "manifest")
	if _, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, "-q", "-o", dest, plain.String()); code != 0 {
		t.Fatalf("rtpget of the tree's manifest: exit %d: %s", code, stderr)
	}
	f, err := os.Open(dest)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := collection.Parse(f, collection.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Entries) != len(files) {
		t.Fatalf("the tree lists %d files, want %d", len(m.Entries), len(files))
	}
	for _, e := range m.Entries {
		if fmt.Sprint(e.Hashes()) != fmt.Sprint(hashesOf(files[e.Path])) || e.Size != int64(len(files[e.Path])) {
			t.Errorf("tree entry %+v does not match the file", e)
		}
	}
}

// hashesOf returns data's urns, blake3 first: what --url-hash both lists,
// and whose first alone is the default.
func hashesOf(data []byte) []urn.Hash {
	return []urn.Hash{urn.New(urn.BLAKE3, blake3.Sum256(data)), urn.New(urn.SHA256, sha256.Sum256(data))}
}

func TestGeminiFlags(t *testing.T) {
	dir := t.TempDir()
	wantUsageErrors(t, [][]string{
		{"serve", "--gemini", "quic!127.0.0.1!1965", dir},
		{"serve", "--gemini", "tcp!127.0.0.1!port", dir},
		{"serve", "--advertise", "tcp!example.org!7777", dir},
		{"serve", "--gemini", "tcp!127.0.0.1", "--advertise", "udp!x!1", dir},
	}...)
}

// TestGeminiShutdown: SIGTERM stops the Gemini face with the rest, exit 0.
func TestGeminiShutdown(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644)
	for range 3 {
		s := rtpdtest.Start(t, dir, "--index", filepath.Join(t.TempDir(), "index.db"), "--listen", "tcp!127.0.0.1!0", "--gemini", "tcp!127.0.0.1!0")
		s.Signal(syscall.SIGTERM)
		if code := s.Wait(); code != 0 || !strings.Contains(s.Log(), "shutting down") {
			t.Fatalf("rtpd --gemini exited %d after SIGTERM, want 0\n%s", code, s.Log())
		}
	}
}
