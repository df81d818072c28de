package cliutil

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// Reorder returns os.Args-style args (args[0] the program) with the flags
// of the command line moved before its positional arguments, so that
// `rtpget URL -o FILE` and `rtpd serve DIR --listen X` parse as the same
// commands with the flags first do: urfave/cli v2, like Go's flag package,
// stops at the first positional argument.
//
// For an app with commands, the app's own flags come before the command's
// name and stay there; the command's flags are those of app.Command(name),
// plus -h/--help. An unknown command name leaves args as they are. Flags
// are known by their names and aliases: a flag that takes a value moves
// with the next argument unless written --flag=value; with
// UseShortOptionHandling, -qk and -vv are flags and -qo takes a value if
// o does. An unknown flag moves alone (the parser then reports it). "--"
// ends the flags: what follows stays positional, after a "--" kept in
// front of it. A lone "-" (stdin or stdout) is positional.
func Reorder(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	out := []string{args[0]}
	rest := args[1:]
	appFlags := app.Flags
	if !app.HideHelp {
		appFlags = append(appFlags[:len(appFlags):len(appFlags)], cli.HelpFlag)
	}
	if !app.HideVersion && app.Version != "" {
		appFlags = append(appFlags[:len(appFlags):len(appFlags)], cli.VersionFlag)
	}
	if len(app.Commands) == 0 {
		return append(out, reorder(rest, specsOf(appFlags), app.UseShortOptionHandling)...)
	}
	// The app's flags, then the command's name.
	specs := specsOf(appFlags)
	i := 0
	for i < len(rest) && isFlag(rest[i]) && rest[i] != "--" {
		if specs.takesValue(rest[i], app.UseShortOptionHandling) {
			i++
		}
		i++
	}
	if i >= len(rest) {
		return args
	}
	cmd := app.Command(rest[i])
	if cmd == nil || cmd.SkipFlagParsing {
		return args
	}
	cmdFlags := cmd.Flags
	if !cmd.HideHelp {
		cmdFlags = append(cmdFlags[:len(cmdFlags):len(cmdFlags)], cli.HelpFlag)
	}
	out = append(out, rest[:i+1]...)
	short := cmd.UseShortOptionHandling || app.UseShortOptionHandling
	return append(out, reorder(rest[i+1:], specsOf(cmdFlags), short)...)
}

// reorder moves the flags of args, with their values, before the
// positional arguments.
func reorder(args []string, specs flagSpecs, short bool) []string {
	var flags, pos []string
	dashdash := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			pos = append(pos, args[i+1:]...)
			dashdash = true
			i = len(args)
		case !isFlag(a):
			pos = append(pos, a)
		default:
			flags = append(flags, a)
			if specs.takesValue(a, short) && i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
		}
	}
	if dashdash {
		flags = append(flags, "--")
	}
	return append(flags, pos...)
}

// isFlag reports whether a is written as a flag: a dash and more; "-"
// alone is a positional argument.
func isFlag(a string) bool { return len(a) > 1 && a[0] == '-' }

// flagSpecs maps every name and alias of a set of flags to whether the
// flag takes a value.
type flagSpecs map[string]bool

func specsOf(flags []cli.Flag) flagSpecs {
	s := flagSpecs{}
	for _, f := range flags {
		v := true
		if tv, ok := f.(interface{ TakesValue() bool }); ok {
			v = tv.TakesValue()
		}
		for _, n := range f.Names() {
			s[n] = v
		}
	}
	return s
}

// takesValue reports whether the flag argument a is one that takes the
// next argument as its value.
func (s flagSpecs) takesValue(a string, short bool) bool {
	name := strings.TrimPrefix(a[1:], "-")
	if strings.Contains(name, "=") {
		return false
	}
	if v, ok := s[name]; ok {
		return v
	}
	// -qk, -vv, -qo FILE: as urfave/cli splits a combination of known
	// one-letter flags.
	if !short || strings.HasPrefix(a, "--") || len(name) < 2 {
		return false
	}
	for _, c := range name {
		if _, ok := s[string(c)]; !ok {
			return false
		}
	}
	r := []rune(name)
	return s[string(r[len(r)-1])]
}
