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
// rendered from the command and flag definitions, and names every
// command and flag.
func TestManPage(t *testing.T) {
	want, err := mangen.Render(newApp(), manExtra)
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range newApp().VisibleCommands() {
		if !strings.Contains(want, ".SH "+cmd.Name) {
			t.Errorf("man page lacks the command %s", cmd.Name)
		}
		for _, f := range cmd.VisibleFlags() {
			if !strings.Contains(want, "--"+f.Names()[0]) {
				t.Errorf("man page lacks %s --%s", cmd.Name, f.Names()[0])
			}
		}
	}
	bin := filepath.Join(t.TempDir(), "rtpd-man")
	if out, err := exec.Command("go", "build", "-tags", "man", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build -tags man: %v\n%s", err, out)
	}
	got, stderr, code := rtpdtest.Run(t, bin)
	if code != 0 || got != want {
		t.Errorf("rtpd built with -tags man: exit %d (%s), page differs from mangen.Render", code, stderr)
	}
}
