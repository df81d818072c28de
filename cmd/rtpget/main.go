// Command rtpget downloads a file named by an rtp: URL and verifies it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/rtp-project/rtp/internal/cliutil"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	app := getApp()
	if complete(app, os.Args[1:], os.Stdout) {
		return
	}
	cliutil.Exit("rtpget", app.RunContext(ctx, os.Args))
}
