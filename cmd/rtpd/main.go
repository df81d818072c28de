// Command rtpd serves the files of a folder by hash over RTP/1.
package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/rtp-project/rtp/internal/cliutil"
)

// main exits 0 (also after a graceful shutdown on SIGTERM), 1 (failed), 2
// (bad usage), or 130 after a clean shutdown on SIGINT.
func main() {
	cliutil.RunDaemon("rtpd", newApp(), os.Args)
}

func newApp() *cli.App {
	cli.VersionFlag = cliutil.VersionFlag
	return &cli.App{
		Name:            "rtpd",
		Version:         cliutil.Version(),
		Usage:           "serve files by hash over RTP/1 (TCP, TLS, QUIC)",
		HideHelpCommand: true,
		OnUsageError:    usageError,
		ExitErrHandler:  func(*cli.Context, error) {}, // main prints and exits
		CommandNotFound: func(_ *cli.Context, name string) {
			fmt.Fprintf(os.Stderr, "rtpd: no command %q; try rtpd --help\n", name)
			os.Exit(2)
		},
		Commands: []*cli.Command{serveCommand(), urlCommand(), lsCommand()},
	}
}

// usageError makes a bad flag or argument exit 2 with one line.
func usageError(_ *cli.Context, err error, _ bool) error {
	return cli.Exit(err.Error(), 2)
}
