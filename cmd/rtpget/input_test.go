package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/rtp-project/rtp/internal/rtpdtest"
	"github.com/rtp-project/rtp/rtpurl"
)

// listFixture serves three files from two rtpd processes and returns them
// by name with their rtp: URLs.
func listFixture(t *testing.T) (data map[string][]byte, urls map[string]string) {
	t.Helper()
	blobs := t.TempDir()
	data, urls = map[string][]byte{}, map[string]string{}
	var us []*rtpurl.URL
	for _, f := range []struct {
		name string
		size int
	}{{"a.bin", 5 << 20}, {"b.bin", 1 << 20}, {"c.bin", 3<<20 + 17}} {
		d, u := writeRandom(t, blobs, f.name, f.size)
		data[f.name] = d
		us = append(us, u)
	}
	s1 := rtpdtest.Start(t, blobs, "--index", filepath.Join(t.TempDir(), "index.db"), "--listen", "tcp!127.0.0.1!0")
	s2 := rtpdtest.Start(t, blobs, "--index", filepath.Join(t.TempDir(), "index.db"), "--listen", "quic!127.0.0.1!0")
	for _, u := range us {
		urls[u.Name] = addServers(u, s1, s2)
	}
	return data, urls
}

func checkOutputs(t *testing.T, dir string, want map[string][]byte) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	var wantNames []string
	for n := range want {
		wantNames = append(wantNames, n)
	}
	sort.Strings(wantNames)
	if strings.Join(names, " ") != strings.Join(wantNames, " ") {
		t.Errorf("%s holds %v, want %v", dir, names, wantNames)
	}
	for n, d := range want {
		if got, err := os.ReadFile(filepath.Join(dir, n)); err != nil || !bytes.Equal(got, d) {
			t.Errorf("%s differs (%d bytes, %v)", n, len(got), err)
		}
	}
}

func TestInputFile(t *testing.T) {
	data, urls := listFixture(t)
	list := "# three files\n\n" + urls["a.bin"] + "\n   \n  # indented comment\n" +
		urls["b.bin"] + "\r\n\t" + urls["c.bin"] // CRLF, a tab, no final newline
	file := filepath.Join(t.TempDir(), "urls.txt")
	if err := os.WriteFile(file, []byte(list), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	stdout, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, "-k", "-i", file, "-j", "2", "-C", out)
	if code != 0 || stdout != "" {
		t.Fatalf("exit %d, stdout %q, stderr %s", code, stdout, stderr)
	}
	checkOutputs(t, out, data)
	if n := strings.Count(stderr, "verified"); n != 3 {
		t.Errorf("want one 'verified' line per file, got:\n%s", stderr)
	}

	// The same from stdin, three at once, with a JSON summary per line.
	out = t.TempDir()
	stdout, stderr, code = runStdin(t, list, "-k", "-i", "-", "-j", "3", "-C", out, "--json")
	if code != 0 {
		t.Fatalf("stdin: exit %d, %s", code, stderr)
	}
	checkOutputs(t, out, data)
	lines := map[int]bool{}
	dec := json.NewDecoder(strings.NewReader(stdout))
	for {
		var s listSummary
		if err := dec.Decode(&s); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decoding %q: %v", stdout, err)
		}
		if s.Error != "" || s.Result == nil || len(s.Result.Verified) != 2 {
			t.Errorf("line %d: %+v", s.Line, s)
		}
		lines[s.Line] = true
	}
	if len(lines) != 3 || !lines[3] || !lines[6] || !lines[7] {
		t.Errorf("summaries for lines %v, want 3, 6 and 7", lines)
	}
}

// TestInputFileBad: any bad line, or a bad use of -i, exits 2 before any
// download starts, naming every bad line.
func TestInputFileBad(t *testing.T) {
	_, urls := listFixture(t)
	const badURN = "rtp:?u=urn:sha256:abc&s=tcp!127.0.0.1!1"
	cases := []struct {
		name  string
		list  string
		args  []string
		lines []string // FILE:N each stderr must name
	}{
		{"one malformed", urls["a.bin"] + "\n" + badURN + "\n", nil, []string{":2:"}},
		{"two malformed", "not a url\n" + urls["a.bin"] + "\n# ok\nhttp://example.org/\n", nil, []string{":1:", ":4:"}},
		{"same name twice", urls["a.bin"] + "\n" + urls["b.bin"] + "\n" + urls["a.bin"] + "\n", nil, []string{":3: writes"}},
		{"-o beside -i", urls["a.bin"] + "\n", []string{"-o", "x"}, nil},
		{"URL beside -i", urls["a.bin"] + "\n", []string{urls["b.bin"]}, nil},
		{"bad -j", urls["a.bin"] + "\n", []string{"-j", "0"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "urls.txt")
			os.WriteFile(file, []byte(c.list), 0o644)
			out := t.TempDir()
			args := append([]string{"-k", "-i", file, "-C", out}, c.args...)
			_, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, args...)
			if code != 2 {
				t.Errorf("exit %d, want 2; stderr %s", code, stderr)
			}
			for _, l := range c.lines {
				if !strings.Contains(stderr, "urls.txt"+l) {
					t.Errorf("stderr does not name %s:\n%s", l, stderr)
				}
			}
			if ents, _ := os.ReadDir(out); len(ents) != 0 {
				t.Errorf("files written: %v", ents)
			}
		})
	}
	if _, stderr, code := rtpdtest.Run(t, rtpdtest.RTPGet, "-i", filepath.Join(t.TempDir(), "none")); code != 2 {
		t.Errorf("missing list: exit %d, %s", code, stderr)
	}
}

// TestInputFileOneFails: a line whose file no server holds fails (exit 1,
// named on stderr); the other lines still download.
func TestInputFileOneFails(t *testing.T) {
	data, urls := listFixture(t)
	_, mu := writeRandom(t, t.TempDir(), "missing.bin", 1<<20)
	u, err := rtpurl.Parse(urls["a.bin"])
	if err != nil {
		t.Fatal(err)
	}
	mu.Servers = u.Servers
	list := urls["a.bin"] + "\n" + mu.String() + "\n" + urls["b.bin"] + "\n"
	out := t.TempDir()
	_, stderr, code := runStdin(t, list, "-k", "-q", "-i", "-", "-C", out)
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr %s", code, stderr)
	}
	if !strings.Contains(stderr, "stdin:2:") || !strings.Contains(stderr, "1 of 3 downloads failed") {
		t.Errorf("stderr: %s", stderr)
	}
	// As for one URL, the failed download's .part stays for a rerun.
	os.Remove(filepath.Join(out, "missing.bin.part"))
	os.Remove(filepath.Join(out, "missing.bin.part.state"))
	checkOutputs(t, out, map[string][]byte{"a.bin": data["a.bin"], "b.bin": data["b.bin"]})
}
