// Command wanbench runs rtpget, curl and aria2c against rtpd and nginx over
// links emulated by bench/wan (delay, loss, rate limit; no netem needed),
// in a matrix of round-trip times, loss rates, link rates and the sender's
// TCP congestion control, and writes a markdown table per scenario, a CSV
// and a JSON of every run, and a plot. Scenarios, flags and the runtime of
// the default matrix are in README.md. As root, from the module root:
//
//	go run ./bench/wanbench -quick           # a smoke run, a few minutes
//	go run ./bench/wanbench -out /tmp/wan     # the whole matrix, hours
//	go run ./bench/wanbench -plan             # what would run, and how long
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// errUsage marks a bad flag: exit status 2.
var errUsage = errors.New("usage")

func main() {
	opts, err := parseFlags(flag.CommandLine, os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "wanbench:", err)
		os.Exit(2)
	}
	if opts.plan {
		printPlan(os.Stdout, opts)
		return
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "wanbench: must run as root (network namespaces, TUN devices); -plan shows what would run")
		os.Exit(2)
	}
	if opts.clean {
		if err := cleanLeftovers(); err != nil {
			fmt.Fprintln(os.Stderr, "wanbench:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, opts)
	interrupted := ctx.Err() != nil
	stop()
	if interrupted {
		fmt.Fprintln(os.Stderr, "wanbench: interrupted; every namespace and process removed")
		os.Exit(130)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "wanbench:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}
