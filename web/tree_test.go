package web_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rtp-project/rtp/collection"
	"github.com/rtp-project/rtp/collstore"
	"github.com/rtp-project/rtp/internal/rtpdtest"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/web"
)

// TestTreeLink: the page lists each folder with a link to /tree/FOLDER/,
// which answers the rtp: URL of the folder's tree, whose manifest the
// keeper then holds, listing the folder's files; a changed file gives 503
// until it is hashed again, then another URL.
func TestTreeLink(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{"models/llama/w.bin": "weights", "models/llama/cfg/a.json": "{}", "top.txt": "top"} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(data), 0o644)
	}
	disk := rtpdtest.IndexedDisk(t, dir)
	keeper := collstore.NewKeeper(collstore.Dir(disk.IndexDir()), nil)
	face := web.New(web.Config{
		Store: disk, Index: disk, Trees: keeper, Root: disk.Location(),
		Advertise: []rtpurl.Dial{{Proto: "tcp", Host: "rtp.example.org", Port: 7777}},
		Gemini:    []rtpurl.Dial{{Proto: "tcp", Host: "::", Port: 1965}},
	})
	srv := httptest.NewServer(face)
	t.Cleanup(srv.Close)

	_, page := get(t, srv.URL+"/")
	if n := bytes.Count(page, []byte(`<li class="folder">`)); n != 3 {
		t.Errorf("the page lists %d folders, want 3", n)
	}
	for _, want := range []string{`href="/tree/models/"`, `href="/tree/models/llama/"`, `href="/tree/models/llama/cfg/"`, "gemini&#43;rtp://127.0.0.1/models/llama/"} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("the page lacks %s:\n%s", want, page)
		}
	}

	treeURL := func() *rtpurl.URL {
		t.Helper()
		resp, body := get(t, srv.URL+"/tree/models/llama/")
		if resp.StatusCode != 200 {
			t.Fatalf("/tree/models/llama/: %s %s", resp.Status, body)
		}
		u, err := rtpurl.Parse(strings.TrimSpace(string(body)))
		if err != nil || !collection.IsCollection(u.Types) || u.Name != "llama" {
			t.Fatalf("/tree/models/llama/: %s (%v)", body, err)
		}
		b, err := keeper.Open(context.Background(), u.Hashes[0])
		if err != nil {
			t.Fatalf("the keeper lacks the tree: %v", err)
		}
		defer b.Close()
		raw := make([]byte, b.Size())
		b.ReadAt(raw, 0)
		m, err := collection.Parse(bytes.NewReader(raw), collection.Limits{})
		if err != nil || len(m.Entries) != 2 || m.Entries[0].Path != "cfg/a.json" || m.Entries[1].Path != "w.bin" {
			t.Fatalf("the tree's manifest: %v\n%s", err, raw)
		}
		return u
	}
	u1 := treeURL()
	os.WriteFile(filepath.Join(dir, "models/llama/w.bin"), []byte("new weights"), 0o644)
	if resp, _ := get(t, srv.URL+"/tree/models/llama/"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a changed file: %s, want 503", resp.Status)
	}
	if _, err := disk.Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	u2 := treeURL()
	if u2.Hashes[0] == u1.Hashes[0] {
		t.Error("the tree's URL did not change with a file")
	}
	if resp, _ := get(t, srv.URL+"/tree/nothing/"); resp.StatusCode != 404 {
		t.Errorf("an empty folder: %s, want 404", resp.Status)
	}
}
