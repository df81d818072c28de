package cliutil

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/urfave/cli/v2"
)

// SignalContext returns a context that the first SIGINT or SIGTERM
// cancels, and a function returning that signal (nil until then). After
// the first signal the default action is restored, so a second Ctrl-C ends
// the process at once, cleanup or not. stop releases the signals.
func SignalContext(parent context.Context) (ctx context.Context, got func() os.Signal, stop func()) {
	ctx, cancel := context.WithCancel(parent)
	var sig atomic.Value
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			sig.Store(s)
			signal.Stop(ch)
			cancel()
		case <-done:
		}
	}()
	got = func() os.Signal {
		s, _ := sig.Load().(os.Signal)
		return s
	}
	stop = func() {
		signal.Stop(ch)
		close(done)
		cancel()
	}
	return ctx, got, stop
}

// SignalExitCode is the shell's code for a process ended by sig: 128 plus
// its number, 130 for SIGINT and 143 for SIGTERM.
func SignalExitCode(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 1
}

// Run runs app on args, with the flags of the command line moved before its
// positional arguments (Reorder), under a context that SIGINT and SIGTERM
// cancel, and exits. The app's action cleans up when the context is done
// (rtpd shuts down gracefully, rtpget keeps its .part); then Run exits
// 128+the signal's number, printing the action's error first unless it is
// only the cancellation. Without a signal it exits as Exit does, or
// returns if the app succeeded.
func Run(name string, app *cli.App, args []string) { run(name, app, args, false) }

// RunDaemon is Run for a server: SIGTERM is how a service manager stops
// it, so a graceful shutdown on SIGTERM (the action returns nil) exits 0,
// as nginx and PostgreSQL do, and `kill $pid; wait $pid` in a script under
// `set -e` does not fail. SIGINT still exits 130.
func RunDaemon(name string, app *cli.App, args []string) { run(name, app, args, true) }

func run(name string, app *cli.App, args []string, daemon bool) {
	ctx, got, stop := SignalContext(context.Background())
	err := app.RunContext(ctx, Reorder(app, args))
	sig := got()
	stop()
	if sig == nil || daemon && sig == syscall.SIGTERM && err == nil {
		Exit(name, err)
		return
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(os.Stderr, name+":", msg)
		}
	}
	os.Exit(SignalExitCode(sig))
}
