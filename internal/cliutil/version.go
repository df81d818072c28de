package cliutil

import (
	"runtime/debug"
	"strings"

	"github.com/urfave/cli/v2"
)

// Version describes the build from what the Go toolchain recorded in the
// binary: the module version (a tag, a pseudo-version or "(devel)"), the VCS
// revision and commit time, whether the tree had uncommitted changes, and
// the Go version. urfave/cli prints it for --version.
//
// The flag urfave/cli prints it for is VersionFlag.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown (no build information)"
	}
	parts := []string{bi.Main.Version}
	var rev, when string
	var modified bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev != "" {
		r := "revision " + rev
		if modified {
			r += " (modified)"
		}
		parts = append(parts, r)
		if when != "" {
			parts = append(parts, when)
		}
	}
	parts = append(parts, bi.GoVersion)
	return strings.Join(parts, ", ")
}

// VersionFlag is --version without urfave/cli's -v alias, which is
// -v(erbose) in rtpget; rtpd keeps the two alike.
var VersionFlag = &cli.BoolFlag{Name: "version", Usage: "print the version (module version, VCS revision, Go version) and exit"}
