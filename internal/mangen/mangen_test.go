package mangen

import (
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

func TestRender(t *testing.T) {
	cases := []struct {
		name string
		app  *cli.App
		want []string
	}{
		{"no commands", &cli.App{
			Name: "fetch", Usage: "fetch a thing", ArgsUsage: "URL",
			Flags: []cli.Flag{&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "where to write"}},
		}, []string{".TH fetch 1", "fetch \\- fetch a thing", "fetch [OPTIONS] URL", "--output", "where to write", ".SH EXIT STATUS"}},
		{"commands", &cli.App{
			Name: "srv", Usage: "serve things",
			Commands: []*cli.Command{{Name: "serve", Usage: "serve a folder", Flags: []cli.Flag{&cli.IntFlag{Name: "max", Value: 3, Usage: "most at once"}}}},
		}, []string{".TH srv 1", "srv COMMAND [OPTIONS] ARGS", ".SH COMMANDS", "serve a folder", "--max", "(default: 3)", ".SH EXIT STATUS"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			page, err := Render(c.app, "# EXIT STATUS\n\n**0** done.")
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range c.want {
				if !strings.Contains(page, w) {
					t.Errorf("page lacks %q:\n%s", w, page)
				}
			}
			if strings.Contains(page, "command [COMMAND OPTIONS]") {
				t.Errorf("urfave/cli's generic usage line left in:\n%s", page)
			}
			if c.app.UsageText != "" {
				t.Error("Render changed the app")
			}
		})
	}
}
