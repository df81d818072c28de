// Package mangen writes man pages (roff) from urfave/cli definitions, so
// that the pages say what --help says. Each command has a man.go, built only
// with -tags man, that prints its page instead of running:
//
//	go run -tags man ./cmd/rtpget > docs/man/rtpget.1   # what make man does
//	man -l docs/man/rtpget.1
package mangen

import (
	"fmt"
	"os"
	"strings"

	"github.com/cpuguy83/go-md2man/v2/md2man"
	"github.com/urfave/cli/v2"
)

// Render returns app's man page in section 1: urfave/cli's markdown for
// it (name, synopsis, usage, options with their defaults and environment
// variables, commands), then extra, more sections in the same markdown
// ("# EXIT STATUS\n\n..."), turned into roff by go-md2man as
// cli.App.ToMan does. urfave/cli's usage line says "command [COMMAND
// OPTIONS]" for every app, so Render writes it itself when app has no
// UsageText: NAME COMMAND [OPTIONS] ARGS with commands, else NAME
// [OPTIONS] ARGS.
func Render(app *cli.App, extra string) (string, error) {
	a := *app
	if a.UsageText == "" {
		if len(a.VisibleCommands()) > 0 {
			a.UsageText = a.Name + " COMMAND [OPTIONS] ARGS"
		} else {
			a.UsageText = strings.TrimSpace(a.Name + " [OPTIONS] " + a.ArgsUsage)
		}
	}
	md, err := a.ToMarkdown()
	if err != nil {
		return "", err
	}
	page := fmt.Sprintf("%% %s 1\n\n%s\n%s\n", a.Name, md, extra)
	return string(md2man.Render([]byte(page))), nil
}

// Main prints app's page to stdout and exits: what the man.go of a command
// calls from init when it is built with -tags man.
func Main(app *cli.App, extra string) {
	page, err := Render(app, extra)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mangen:", err)
		os.Exit(1)
	}
	fmt.Print(page)
	os.Exit(0)
}
