// Package cliutil holds what rtpd's and rtpget's main packages share.
package cliutil

import (
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
)

// Exit prints err as one line, "name: err", and exits with its code: that
// of a cli.ExitCoder (2 for bad usage), else 1. A nil err returns.
func Exit(name string, err error) {
	if err == nil {
		return
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(os.Stderr, name+":", msg)
		}
		os.Exit(ec.ExitCode())
	}
	fmt.Fprintln(os.Stderr, name+":", err)
	os.Exit(1)
}

// IsTerminal reports whether f is a character device, such as a terminal.
func IsTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
