package mangen

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// Check is a command's man page test, run from the command's package: the
// page renders, names every visible flag (of the app and of each command)
// and every section in want, and is what `go build -tags man` of the
// package prints, which is what make man writes.
func Check(t *testing.T, app *cli.App, extra string, want ...string) {
	t.Helper()
	page, err := Render(app, extra)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range app.VisibleFlags() {
		if !strings.Contains(page, "--"+f.Names()[0]) {
			t.Errorf("man page lacks --%s", f.Names()[0])
		}
	}
	for _, cmd := range app.VisibleCommands() {
		if !strings.Contains(page, ".SH "+cmd.Name) {
			t.Errorf("man page lacks the command %s", cmd.Name)
		}
		for _, f := range cmd.VisibleFlags() {
			if !strings.Contains(page, "--"+f.Names()[0]) {
				t.Errorf("man page lacks %s --%s", cmd.Name, f.Names()[0])
			}
		}
	}
	for _, sec := range want {
		if !strings.Contains(page, sec) {
			t.Errorf("man page lacks %s", sec)
		}
	}
	bin := filepath.Join(t.TempDir(), app.Name+"-man")
	if out, err := exec.Command("go", "build", "-tags", "man", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build -tags man: %v\n%s", err, out)
	}
	got, err := exec.Command(bin).Output()
	if err != nil || string(got) != page {
		t.Errorf("%s built with -tags man: %v; its page differs from Render's", app.Name, err)
	}
}
