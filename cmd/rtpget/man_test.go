package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rtp-project/rtp/internal/mangen"
	"github.com/rtp-project/rtp/internal/rtpdtest"
)

// TestManPage: the page make man writes (go run -tags man) is the one
// rendered from the flag definitions, and names every flag.
func TestManPage(t *testing.T) {
	want, err := mangen.Render(getApp(), manExtra)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range getApp().VisibleFlags() {
		if !strings.Contains(want, "--"+f.Names()[0]) {
			t.Errorf("man page lacks --%s", f.Names()[0])
		}
	}
	for _, sec := range []string{".SH DESCRIPTION", ".SH EXIT STATUS", ".SH EXAMPLES"} {
		if !strings.Contains(want, sec) {
			t.Errorf("man page lacks %s", sec)
		}
	}
	bin := filepath.Join(t.TempDir(), "rtpget-man")
	if out, err := exec.Command("go", "build", "-tags", "man", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build -tags man: %v\n%s", err, out)
	}
	got, stderr, code := rtpdtest.Run(t, bin)
	if code != 0 || got != want {
		t.Errorf("rtpget built with -tags man: exit %d (%s), page differs from mangen.Render", code, stderr)
	}
}
