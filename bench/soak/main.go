// Command soak runs a real rtpd on a folder that keeps changing while real
// rtpget clients download from it. A writer creates files (0 bytes to 500
// MiB), appends to them slowly, truncates, renames, deletes and overwrites
// them; clients fetch rtp: URLs from rtpd's Gemini and HTTP faces and
// download them; a checker asks that every file left alone for two rescan
// periods be served. From the module root:
//
//	go run ./bench/soak                    # 10 minutes
//	go run ./bench/soak -duration 60s      # a smoke run
//
// It exits 1 when rtpd exits or panics, /healthz fails, a download that
// rtpget calls complete is not exact, rtpd names a file by a hash it never
// had or sends bytes of a changed file, or a file that stood still is not
// served; 2 for bad flags or too little disk. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

var (
	flagDuration = flag.Duration("duration", 10*time.Minute, "how long the writer and the clients run")
	flagRescan   = flag.Duration("rescan", time.Second, "rtpd's --rescan")
	flagMaxSize  = flag.Int64("max-size", 500<<20, "largest file the writer makes, bytes")
	flagMaxTotal = flag.Int64("max-total", 3<<30, "the served folder's size stays below this many bytes")
	flagWriters  = flag.Int("writers", 2, "writer goroutines (each works on its own files)")
	flagClients  = flag.Int("clients", 2, "client goroutines, each running one rtpget at a time")
	flagMaxWait  = flag.Duration("max-wait", time.Minute, "a file that stood still this long past two rescans is due, however long rtpd spent hashing other files meanwhile")
	flagBin      = flag.String("bin", "", "folder holding rtpd and rtpget (make build's bin); default: go build them into the temp folder")
	flagLog      = flag.String("log", "", "write rtpd's whole log to this file")
	flagKeep     = flag.Bool("keep", false, "keep the temp folder (served files, rtpd's index)")
	flagRTPDArgs = flag.String("rtpd-args", "", "more flags for rtpd serve, space-separated (e.g. \"--hash-workers 4\")")
)

func main() {
	flag.Parse()
	if *flagDuration <= 0 || *flagRescan <= 0 || *flagMaxSize < 0 || *flagMaxTotal < *flagMaxSize ||
		*flagWriters < 1 || *flagClients < 1 || *flagMaxWait <= 0 || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "soak: -duration, -rescan, -max-wait, -writers and -clients must be positive, -max-total at least -max-size, and no arguments")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg := Config{
		Duration: *flagDuration, Rescan: *flagRescan, MaxWait: *flagMaxWait,
		MaxSize: *flagMaxSize, MaxTotal: *flagMaxTotal,
		Writers: *flagWriters, Clients: *flagClients,
		Bin: *flagBin, Log: *flagLog, Keep: *flagKeep, RTPDArgs: strings.Fields(*flagRTPDArgs),
		Progress: os.Stderr,
	}
	r, err := Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		if errors.Is(err, errDisk) {
			os.Exit(2)
		}
		if r == nil {
			os.Exit(1)
		}
	}
	if r != nil {
		r.Print(os.Stdout)
		if len(r.Failures) > 0 || err != nil {
			os.Exit(1)
		}
	}
}
