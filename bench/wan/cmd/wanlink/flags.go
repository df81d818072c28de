package main

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/rtp-project/rtp/bench/wan"
)

// split returns the two values of a flag: "x" is x for both directions,
// "x/y" x from A to B and y back.
func split(name, v string) (string, string, error) {
	a, b, two := strings.Cut(v, "/")
	if two && strings.Contains(b, "/") {
		return "", "", fmt.Errorf("-%s %q: at most two values, A to B / B to A", name, v)
	}
	if !two {
		b = a
	}
	return a, b, nil
}

// dirs builds both directions from the impairment flags.
func dirs() (wan.Dir, wan.Dir, error) {
	var d [2]wan.Dir
	parse := func(name, v string, f func(d *wan.Dir, s string) error) error {
		a, b, err := split(name, v)
		if err != nil {
			return err
		}
		for i, s := range []string{a, b} {
			if err := f(&d[i], s); err != nil {
				return fmt.Errorf("-%s %q: %v", name, s, err)
			}
		}
		return nil
	}
	delay := *flagDelay
	half := false
	if delay == "" {
		delay, half = *flagRTT, true
	}
	name := map[bool]string{true: "rtt", false: "delay"}[half]
	err := parse(name, delay, func(d *wan.Dir, s string) (err error) {
		d.Delay, err = time.ParseDuration(s)
		if half {
			d.Delay /= 2
		}
		return err
	})
	if err == nil {
		err = parse("jitter", *flagJitter, func(d *wan.Dir, s string) (err error) {
			d.Jitter, err = time.ParseDuration(s)
			return err
		})
	}
	if err == nil {
		err = parse("loss", *flagLoss, func(d *wan.Dir, s string) (err error) {
			d.Loss, err = strconv.ParseFloat(s, 64)
			return err
		})
	}
	if err == nil && *flagGE != "" {
		err = parse("ge", *flagGE, func(d *wan.Dir, s string) error {
			g, err := parseGE(s)
			d.GE = g
			return err
		})
	}
	if err == nil {
		err = parse("rate", *flagRate, func(d *wan.Dir, s string) (err error) {
			d.Rate, err = parseRate(s)
			return err
		})
	}
	if err == nil {
		err = parse("queue", *flagQueue, func(d *wan.Dir, s string) (err error) {
			d.Queue, err = parseQueue(s, d.Rate)
			return err
		})
	}
	if err != nil {
		return d[0], d[1], err
	}
	for i, dir := range d {
		if err := dir.Check(); err != nil {
			return d[0], d[1], fmt.Errorf("%s: %v", []string{"A to B", "B to A"}[i], err)
		}
	}
	return d[0], d[1], nil
}

func parseGE(s string) (*wan.GilbertElliott, error) {
	f := strings.Split(s, ",")
	if len(f) < 2 || len(f) > 4 {
		return nil, fmt.Errorf("want P,R[,LossGood[,LossBad]]")
	}
	v := []float64{0, 0, 0, 1}
	for i, x := range f {
		var err error
		if v[i], err = strconv.ParseFloat(x, 64); err != nil {
			return nil, err
		}
	}
	return &wan.GilbertElliott{P: v[0], R: v[1], LossGood: v[2], LossBad: v[3]}, nil
}

var units = map[string]float64{"": 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9}

// parseRate reads bits per second: 200M, 1.5G, 64k, 1000000.
func parseRate(s string) (int64, error) {
	num, unit := s, ""
	if n := len(s); n > 0 && units[s[n-1:]] > 1 {
		num, unit = s[:n-1], s[n-1:]
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("want bits/s, e.g. 200M")
	}
	return int64(v * units[unit]), nil
}

// parseQueue reads a queue as a time at rate (100ms) or bytes (1.5MB, 64KB,
// 9000).
func parseQueue(s string, rate int64) (int, error) {
	if d, err := time.ParseDuration(s); err == nil && s != "0" {
		if d < 0 {
			return 0, fmt.Errorf("negative")
		}
		return int(float64(rate) / 8 * d.Seconds()), nil
	}
	num, unit := strings.TrimSuffix(strings.TrimSuffix(s, "B"), "b"), ""
	if n := len(num); n > 0 && units[num[n-1:]] > 1 {
		num, unit = num[:n-1], num[n-1:]
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("want a time at the rate (100ms) or bytes (1.5MB)")
	}
	return int(v * units[unit]), nil
}

// addNamespace makes a namespace with its loopback up.
func addNamespace(name string) error {
	for _, args := range [][]string{{"netns", "add", name}, {"-n", name, "link", "set", "dev", "lo", "up"}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}
