package collection

import (
	"bytes"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/rtp-project/rtp/urn"
)

// vectorTree is the tree of the test vector in docs/protocol.md.
var vectorTree = []struct {
	path, content string
	exec          bool
}{
	{"hello.txt", "Hello, world!\n", false},
	{"run.sh", "#!/bin/sh\necho hi\n", true},
	{"src/deep/notes.md", "# Notes\n", false},
	{"src/empty", "", false},
}

// vectorManifest encodes vectorTree.
func vectorManifest(t *testing.T) []byte {
	t.Helper()
	var es []Entry
	for _, f := range vectorTree {
		s, err := urn.HashReader(strings.NewReader(f.content), nil)
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, Entry{Path: f.path, Size: s.N, Exec: f.exec, BLAKE3: s.BLAKE3, SHA256: s.SHA256})
	}
	b, err := Encode(es)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestVector checks the test vector written in docs/protocol.md: the
// manifest of the tree it lists, byte for byte, its urns and its length.
func TestVector(t *testing.T) {
	doc, err := os.ReadFile("../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(doc), "\n## Collections: a folder tree as one resource\n")
	if !ok {
		t.Fatal(`docs/protocol.md has no section "Collections: a folder tree as one resource"`)
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	_, vec, ok := strings.Cut(sec, "### Test vector")
	if !ok {
		t.Fatal("the section has no test vector")
	}
	for _, f := range vectorTree {
		mode := "f"
		if f.exec {
			mode = "x"
		}
		content := "(empty)"
		if f.content != "" {
			content = "`" + strings.Trim(strconv.Quote(f.content), `"`) + "`"
		}
		row := "| `" + f.path + "` | " + mode + " | " + content + " |"
		if !strings.Contains(vec, row) {
			t.Errorf("the vector's table lacks the row\n%s", row)
		}
	}
	_, block, ok := strings.Cut(vec, "```\n")
	block, _, ok2 := strings.Cut(block, "```\n")
	if !ok || !ok2 {
		t.Fatal("no ``` block with the manifest in the test vector")
	}
	want := vectorManifest(t)
	if block != string(want) {
		t.Fatalf("the manifest in docs/protocol.md:\n%s\nEncode of the tree:\n%s", block, want)
	}
	if _, err := Parse(bytes.NewReader([]byte(block)), Limits{}); err != nil {
		t.Fatal(err)
	}
	s, err := urn.HashReader(bytes.NewReader(want), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range s.Hashes() {
		if !strings.Contains(vec, h.String()) {
			t.Errorf("docs/protocol.md lacks the manifest's %s", h)
		}
	}
	ls := regexp.MustCompile(`l=(\d+)`).FindAllStringSubmatch(vec, -1)
	if len(ls) == 0 {
		t.Fatal("the vector's URL has no l=")
	}
	for _, l := range ls {
		if l[1] != strconv.Itoa(len(want)) {
			t.Errorf("l=%s in the vector, the manifest has %d bytes", l[1], len(want))
		}
	}
}
