package main

import (
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// options is the parsed command line.
type options struct {
	rtts      []time.Duration // round-trip times of the one-server matrix
	losses    []float64       // loss per direction, 0..1
	rates     []int64         // link rates, bit/s
	ccs       []string        // sender's TCP congestion control
	tools     []string        // of allTools
	scenarios []string        // of allScenarios
	runs      int
	size      int64   // bytes of every matrix file; 0: seconds at link rate
	seconds   float64 // a matrix run at link rate takes this long

	threeRTTs []time.Duration // the three-server scenario's links
	threeRate int64

	blackout        time.Duration // how long the link drops everything
	blackoutRTT     time.Duration
	blackoutRate    int64
	blackoutSeconds float64 // the blackout file takes this long at link rate

	rssSize int64
	rssRTT  time.Duration
	rssRate int64

	out       string // results folder
	bin       string // prebuilt rtpd and rtpget, else go build
	rtpdBin   string // the binaries run, set by buildBins
	rtpgetBin string
	keep      bool   // keep the temporary folder (files, indexes, logs)
	urlHash   string // rtpd url --hash
	rtpget    []string
	rtpd      []string
	aria2c    []string
	plan      bool
	clean     bool
	quick     bool
	cmdline   []string
	minCap    time.Duration // every run may take this long at least
	capRatio  float64       // and this many times its ideal time
}

var (
	allTools     = []string{"curl", "aria2c", "rtpget-tcp", "rtpget-tls", "rtpget-quic", "rtpget-quic+tcp"}
	allScenarios = []string{"one", "three", "blackout", "rss"}
	allCCs       = []string{"bbr", "cubic", "reno"}
)

func parseFlags(fs *flag.FlagSet, args []string) (*options, error) {
	o := &options{cmdline: args}
	rtt := fs.String("rtt", "20,100,300", "round-trip times in ms of the one-server matrix (half each way)")
	loss := fs.String("loss", "0,0.5,2", "loss in percent, each direction")
	rate := fs.String("rate", "50,200", "link rates in Mbit/s, each direction")
	cc := fs.String("cc", "bbr,cubic", "the servers' TCP congestion control (set on their routes: ip route … congctl)")
	tools := fs.String("tools", strings.Join(allTools, ","), "tools to run")
	scen := fs.String("scenarios", strings.Join(allScenarios, ","), "one (the matrix, one server), three (three servers at once), blackout, rss")
	fs.IntVar(&o.runs, "runs", 3, "runs per cell and tool; tables show the median")
	size := fs.String("size", "", "file size for the one- and three-server matrices, e.g. 200M or 1G (default: -seconds at link rate)")
	fs.Float64Var(&o.seconds, "seconds", 9, "size the matrix files so a run at link rate takes this long")
	three := fs.String("three-rtt", "20,100,300", "round-trip times in ms of the three-server scenario's links")
	threeRate := fs.Int64("three-rate", 100, "link rate in Mbit/s of each of the three servers")
	fs.DurationVar(&o.blackout, "blackout", 20*time.Second, "how long the blackout scenario's link drops every packet")
	bRTT := fs.Int("blackout-rtt", 100, "round-trip time in ms of the blackout scenario")
	bRate := fs.Int64("blackout-rate", 100, "link rate in Mbit/s of the blackout scenario")
	fs.Float64Var(&o.blackoutSeconds, "blackout-seconds", 30, "size the blackout file so it takes this long at link rate")
	rssSize := fs.String("rss-size", "4G", "file size of the rss scenario")
	rRTT := fs.Int("rss-rtt", 300, "round-trip time in ms of the rss scenario")
	rRate := fs.Int64("rss-rate", 200, "link rate in Mbit/s of the rss scenario")
	fs.StringVar(&o.out, "out", "", "results folder (default: a new folder under $TMPDIR, printed)")
	fs.StringVar(&o.bin, "bin", "", "folder with rtpd and rtpget already built (default: go build from this tree)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary folder: files, rtpd indexes, server logs")
	fs.StringVar(&o.urlHash, "url-hash", "blake3", "urns in the rtp: URLs (rtpd url --hash): blake3, both or sha256")
	rtpgetFlags := fs.String("rtpget-flags", "", "extra rtpget flags, space-separated")
	rtpdFlags := fs.String("rtpd-flags", "", "extra rtpd serve flags, space-separated")
	aria2Flags := fs.String("aria2c-flags", "", "extra aria2c flags, space-separated")
	minCap := fs.Duration("cap", 60*time.Second, "a run is stopped after max(-cap, -cap-ratio x its time at link rate)")
	fs.Float64Var(&o.capRatio, "cap-ratio", 4, "see -cap")
	fs.BoolVar(&o.plan, "plan", false, "print the runs and an estimate of the runtime, run nothing")
	fs.BoolVar(&o.clean, "clean", false, "remove what a wanbench killed hard left behind (its namespaces and the processes in them), run nothing")
	fs.BoolVar(&o.quick, "quick", false, "a smoke run: 100 ms, loss 0 and 2%, 50 Mbit/s, bbr, 1 run, 4 s files, no rss (flags given override)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		quick := map[string]string{"rtt": "100", "loss": "0,2", "rate": "50", "cc": "bbr", "runs": "1",
			"seconds": "4", "scenarios": "one,three,blackout", "blackout-seconds": "20"}
		for name, v := range quick {
			if !set[name] {
				fs.Set(name, v)
			}
		}
	}
	var err error
	bad := func(name string, e error) error { return fmt.Errorf("-%s: %v", name, e) }
	if o.rtts, err = parseMillis(*rtt); err != nil {
		return nil, bad("rtt", err)
	}
	if o.threeRTTs, err = parseMillis(*three); err != nil {
		return nil, bad("three-rtt", err)
	}
	if len(o.threeRTTs) != 3 {
		return nil, bad("three-rtt", fmt.Errorf("want three round-trip times, got %d", len(o.threeRTTs)))
	}
	if o.losses, err = parseList(*loss, func(s string) (float64, error) {
		p, err := strconv.ParseFloat(s, 64)
		if err != nil || p < 0 || p > 100 {
			return 0, fmt.Errorf("%q is not a percentage", s)
		}
		return p / 100, nil
	}); err != nil {
		return nil, bad("loss", err)
	}
	if o.rates, err = parseList(*rate, parseMbit); err != nil {
		return nil, bad("rate", err)
	}
	if o.ccs, err = parseList(*cc, oneOf(allCCs)); err != nil {
		return nil, bad("cc", err)
	}
	if o.tools, err = parseList(*tools, oneOf(allTools)); err != nil {
		return nil, bad("tools", err)
	}
	if o.scenarios, err = parseList(*scen, oneOf(allScenarios)); err != nil {
		return nil, bad("scenarios", err)
	}
	if *size != "" {
		if o.size, err = parseSize(*size); err != nil {
			return nil, bad("size", err)
		}
	}
	if o.rssSize, err = parseSize(*rssSize); err != nil {
		return nil, bad("rss-size", err)
	}
	for _, r := range []struct {
		name string
		v    int64
		dst  *int64
	}{{"three-rate", *threeRate, &o.threeRate}, {"blackout-rate", *bRate, &o.blackoutRate}, {"rss-rate", *rRate, &o.rssRate}} {
		if r.v <= 0 {
			return nil, bad(r.name, fmt.Errorf("want a positive rate"))
		}
		*r.dst = r.v * 1e6
	}
	for _, r := range []struct {
		name string
		v    int
		dst  *time.Duration
	}{{"blackout-rtt", *bRTT, &o.blackoutRTT}, {"rss-rtt", *rRTT, &o.rssRTT}} {
		if r.v < 0 {
			return nil, bad(r.name, fmt.Errorf("want a round-trip time >= 0"))
		}
		*r.dst = time.Duration(r.v) * time.Millisecond
	}
	switch {
	case o.runs < 1:
		return nil, bad("runs", fmt.Errorf("want at least 1"))
	case o.seconds <= 0 || o.blackoutSeconds <= 0:
		return nil, fmt.Errorf("-seconds and -blackout-seconds: want a positive duration")
	case o.blackout <= 0:
		return nil, bad("blackout", fmt.Errorf("want a positive duration"))
	case *minCap <= 0 || o.capRatio < 1:
		return nil, fmt.Errorf("-cap: want a positive duration, -cap-ratio at least 1")
	case !slices.Contains([]string{"both", "blake3", "sha256"}, o.urlHash):
		return nil, bad("url-hash", fmt.Errorf("want both, blake3 or sha256"))
	}
	o.minCap = *minCap
	o.rtpget, o.rtpd, o.aria2c = strings.Fields(*rtpgetFlags), strings.Fields(*rtpdFlags), strings.Fields(*aria2Flags)
	return o, nil
}

func parseList[T any](s string, parse func(string) (T, error)) ([]T, error) {
	var out []T
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		v, err := parse(f)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty list")
	}
	return out, nil
}

func parseMillis(s string) ([]time.Duration, error) {
	return parseList(s, func(f string) (time.Duration, error) {
		ms, err := strconv.ParseFloat(f, 64)
		if err != nil || ms < 0 {
			return 0, fmt.Errorf("%q is not a round-trip time in ms", f)
		}
		return time.Duration(ms * float64(time.Millisecond)), nil
	})
}

func parseMbit(s string) (int64, error) {
	m, err := strconv.ParseFloat(s, 64)
	if err != nil || m <= 0 {
		return 0, fmt.Errorf("%q is not a rate in Mbit/s", s)
	}
	return int64(m * 1e6), nil
}

func oneOf(allowed []string) func(string) (string, error) {
	return func(s string) (string, error) {
		if !slices.Contains(allowed, s) {
			return "", fmt.Errorf("%q is not one of %s", s, strings.Join(allowed, ", "))
		}
		return s, nil
	}
}

// parseSize reads bytes with an optional IEC suffix: 512M, 4G, 1048576.
func parseSize(s string) (int64, error) {
	mult := int64(1)
	num := strings.TrimSuffix(strings.TrimSuffix(s, "iB"), "B")
	if n := len(num); n > 0 {
		switch num[n-1] {
		case 'K', 'k':
			mult = 1 << 10
		case 'M', 'm':
			mult = 1 << 20
		case 'G', 'g':
			mult = 1 << 30
		}
		if mult > 1 {
			num = num[:n-1]
		}
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("%q is not a size (e.g. 200M, 4G)", s)
	}
	return int64(v * float64(mult)), nil
}
