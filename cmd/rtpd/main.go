// Command rtpd serves the files of a folder by hash over RTP/1.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/rtp-project/rtp/internal/cliutil"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cliutil.Exit("rtpd", newApp().RunContext(ctx, os.Args))
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
