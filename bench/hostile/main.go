// Command hostile checks that rtpd survives hostile clients: while many
// sessions send garbage, truncated frames, 2^62 length fields, trickles and
// unread pipelines, one good client downloads a file. The good download must
// complete with the right sha256, rtpd must stay up and take a fresh
// session, and its RSS must stay under a limit. From the module root:
//
//	go run ./bench/hostile
//	go run ./bench/hostile -hostile 400 -duration 1m -size 1073741824
//
// It exits 1 when a check fails. hostile_test.go runs a shorter version.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"
)

var (
	flagSize     = flag.Int64("size", 256<<20, "bytes of the file served")
	flagHostile  = flag.Int("hostile", 200, "hostile sessions")
	flagDuration = flag.Duration("duration", 30*time.Second, "how long the hostile load lasts (at least until the good download ends)")
	flagMaxRSS   = flag.Int64("max-rss-mib", 200, "rtpd's RSS must stay below this many MiB")
	flagWindow   = flag.Int("window", 16, "the good client's READs in flight")
	flagRead     = flag.Int("read", 1<<20, "bytes per good READ")
	flagKinds    = flag.String("kinds", "", "comma-separated hostile kinds to run (default all: garbage,truncated,huge-length,slow-loris,pipeliner,token-flood)")
	flagPause    = flag.Duration("pause", 10*time.Millisecond, "a hostile session's pause between connections")
	flagVerbose  = flag.Bool("v", false, "copy rtpd's log to stderr")
)

func main() {
	flag.Parse()
	if *flagSize < 1 || *flagHostile < 0 || *flagWindow < 1 || *flagRead < 1 || *flagMaxRSS < 1 {
		fmt.Fprintln(os.Stderr, "hostile: -size, -window, -read and -max-rss-mib must be positive, -hostile not negative")
		os.Exit(2)
	}
	var kindNames []string
	if *flagKinds != "" {
		kindNames = strings.Split(*flagKinds, ",")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	r, err := Run(ctx, Config{
		Size:      *flagSize,
		Hostile:   *flagHostile,
		Duration:  *flagDuration,
		MaxRSSMiB: *flagMaxRSS,
		Window:    *flagWindow,
		ReadSize:  *flagRead,
		Kinds:     kindNames,
		Pause:     *flagPause,
		Stall:     30 * time.Second,
		Log:       os.Stderr,
		Verbose:   *flagVerbose,
	})
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "hostile:", err)
		os.Exit(1)
	}
	r.Print(os.Stdout)
	if len(r.Failures()) > 0 {
		os.Exit(1)
	}
}
