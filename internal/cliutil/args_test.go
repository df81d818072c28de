package cliutil

import (
	"fmt"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// getLike has rtpget's shape: no commands, short flags that combine, a
// count and a value-taking -o and -i.
func getLike() *cli.App {
	cli.VersionFlag = VersionFlag // as rtpget: -v is verbose
	return &cli.App{
		Name:                   "get",
		Version:                "1",
		UseShortOptionHandling: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}},
			&cli.StringFlag{Name: "input-file", Aliases: []string{"i"}},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}},
			&cli.BoolFlag{Name: "insecure", Aliases: []string{"k"}},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Count: new(int)},
			&cli.DurationFlag{Name: "stall"},
			&cli.StringSliceFlag{Name: "pin"},
		},
	}
}

// dLike has rtpd's shape: commands with their own flags.
func dLike() *cli.App {
	return &cli.App{
		Name:    "d",
		Version: "1",
		Commands: []*cli.Command{
			{Name: "serve", Flags: []cli.Flag{
				&cli.StringSliceFlag{Name: "listen"},
				&cli.StringFlag{Name: "index"},
				&cli.BoolFlag{Name: "no-trees"},
				&cli.IntFlag{Name: "max-read"},
			}},
			{Name: "url", Flags: []cli.Flag{
				&cli.StringSliceFlag{Name: "server"},
				&cli.StringFlag{Name: "hash"},
			}},
		},
	}
}

func TestReorder(t *testing.T) {
	cases := []struct {
		app        *cli.App
		args, want string // space-separated, after the program name
	}{
		// rtpget: flags after the URL, with and without values.
		{getLike(), "URL -o out", "-o out URL"},
		{getLike(), "URL --output out -q", "--output out -q URL"},
		{getLike(), "URL --output=out", "--output=out URL"},
		{getLike(), "-o out URL", "-o out URL"},
		{getLike(), "URL -qk", "-qk URL"},
		{getLike(), "URL -vv -o -", "-vv -o - URL"}, // "-" is -o's value
		{getLike(), "URL -qo out", "-qo out URL"},   // -o, last of -qo, takes out
		{getLike(), "URL -oq", "-oq URL"},           // -o takes "q" itself: urfave's business
		{getLike(), "-i - -j", "-i - -j"},           // unknown -j moves alone
		{getLike(), "URL --stall 2s --pin A --pin B", "--stall 2s --pin A --pin B URL"},
		{getLike(), "URL --quiet=false", "--quiet=false URL"},
		{getLike(), "- -q", "-q -"},           // a lone - is positional
		{getLike(), "URL -- -o", "-- URL -o"}, // -- ends the flags
		{getLike(), "-q -- -o x", "-q -- -o x"},
		{getLike(), "URL --no-such x", "--no-such URL x"}, // unknown: reported by the parser
		{getLike(), "URL -o", "-o URL"},                   // -o lacks its value: usage error either way
		{getLike(), "URL --version", "--version URL"},
		{getLike(), "URL -h", "-h URL"},
		{getLike(), "", ""},

		// rtpd: the command's flags after its arguments.
		{dLike(), "serve ./blobs --listen tcp!x!1", "serve --listen tcp!x!1 ./blobs"},
		{dLike(), "serve ./blobs --listen=tcp!x!1 --no-trees --index i.db", "serve --listen=tcp!x!1 --no-trees --index i.db ./blobs"},
		{dLike(), "serve --max-read 5 ./blobs", "serve --max-read 5 ./blobs"},
		{dLike(), "url a b --server tls!h!1 c --hash sha256", "url --server tls!h!1 --hash sha256 a b c"},
		{dLike(), "url f -h", "url -h f"},
		{dLike(), "serve dir -listen x", "serve -listen x dir"}, // one dash, as Go's flag package allows
		{dLike(), "--version serve dir --listen x", "--version serve --listen x dir"},
		{dLike(), "nope a --listen x", "nope a --listen x"}, // unknown command: untouched
		{dLike(), "serve dir -- --listen", "serve -- dir --listen"},
		{dLike(), "--help", "--help"},
	}
	for _, c := range cases {
		args := append([]string{"prog"}, strings.Fields(c.args)...)
		got := strings.Join(Reorder(c.app, args)[1:], " ")
		if got != c.want {
			t.Errorf("%s %q: got %q, want %q", c.app.Name, c.args, got, c.want)
		}
	}
}

// TestReorderParses runs the apps on the reordered arguments: flags after
// the positional arguments give what flags before them give.
func TestReorderParses(t *testing.T) {
	record := func(app *cli.App, got *string) *cli.App {
		action := func(c *cli.Context) error {
			var b strings.Builder
			for _, n := range c.FlagNames() {
				if c.IsSet(n) {
					fmt.Fprintf(&b, "%s=%v ", n, c.Value(n))
				}
			}
			fmt.Fprintf(&b, "verbose=%d args=%q", c.Count("verbose"), c.Args().Slice())
			*got = b.String()
			return nil
		}
		app.Action = action
		for _, cmd := range app.Commands {
			cmd.Action = action
		}
		return app
	}
	cases := []struct {
		app         func() *cli.App
		after, want string
	}{
		{getLike, "URL -o out -qk -vv", "-o out -q -k -v -v URL"},
		{getLike, "URL -qo out --pin A --stall=2s --pin B", "-q -o out --pin A --pin B --stall 2s URL"},
		{getLike, "-i - -v", "-v -i -"},
		{getLike, "- -o -", "-o - -"},
		{getLike, "URL -- -o", "-- URL -o"},
		{dLike, "serve ./blobs --listen tcp!x!1 --listen tls!x!2 --no-trees", "serve --listen tcp!x!1 --listen tls!x!2 --no-trees ./blobs"},
		{dLike, "url a --server tcp!h!1 b --hash=sha256", "url --server tcp!h!1 --hash sha256 a b"},
	}
	for _, c := range cases {
		var got, want string
		a1 := record(c.app(), &got)
		if err := a1.Run(Reorder(a1, append([]string{"prog"}, strings.Fields(c.after)...))); err != nil {
			t.Errorf("%q: %v", c.after, err)
			continue
		}
		a2 := record(c.app(), &want)
		if err := a2.Run(append([]string{"prog"}, strings.Fields(c.want)...)); err != nil {
			t.Fatalf("%q: %v", c.want, err)
		}
		if got != want || got == "" {
			t.Errorf("%q parses as %s\n%q parses as %s", c.after, got, c.want, want)
		}
	}
	// Without Reorder the flags after a positional argument are arguments:
	// what Reorder is for.
	var got string
	a := record(getLike(), &got)
	a.Run([]string{"prog", "URL", "-o", "out"})
	if !strings.Contains(got, `args=["URL" "-o" "out"]`) {
		t.Errorf("urfave/cli now parses flags after arguments itself (%s): Reorder may go", got)
	}
}
