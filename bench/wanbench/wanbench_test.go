package main

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string // "" when the flags are good
		check   func(t *testing.T, o *options)
	}{
		{args: nil, check: func(t *testing.T, o *options) {
			if len(o.rtts) != 3 || len(o.losses) != 3 || len(o.rates) != 2 || len(o.ccs) != 2 || o.runs != 3 {
				t.Errorf("default matrix %v %v %v %v runs %d, want 3x3x2x2, 3 runs", o.rtts, o.losses, o.rates, o.ccs, o.runs)
			}
			if o.losses[1] != 0.005 || o.rates[1] != 200e6 || o.rtts[2] != 300*time.Millisecond {
				t.Errorf("units: loss %v rate %v rtt %v", o.losses[1], o.rates[1], o.rtts[2])
			}
		}},
		{args: []string{"-quick"}, check: func(t *testing.T, o *options) {
			if len(o.rtts) != 1 || o.runs != 1 || strings.Join(o.scenarios, ",") != "one,three,blackout" {
				t.Errorf("-quick: rtts %v runs %d scenarios %v", o.rtts, o.runs, o.scenarios)
			}
		}},
		{args: []string{"-quick", "-runs", "2", "-rtt", "20,300"}, check: func(t *testing.T, o *options) {
			if o.runs != 2 || len(o.rtts) != 2 {
				t.Errorf("flags given with -quick were overridden: runs %d rtts %v", o.runs, o.rtts)
			}
		}},
		{args: []string{"-size", "200M", "-rss-size", "4G"}, check: func(t *testing.T, o *options) {
			if o.size != 200<<20 || o.rssSize != 4<<30 {
				t.Errorf("sizes %d %d", o.size, o.rssSize)
			}
		}},
		{args: []string{"-rtt", "x"}, wantErr: "-rtt"},
		{args: []string{"-loss", "101"}, wantErr: "-loss"},
		{args: []string{"-rate", "0"}, wantErr: "-rate"},
		{args: []string{"-cc", "vegas"}, wantErr: "-cc"},
		{args: []string{"-tools", "wget"}, wantErr: "-tools"},
		{args: []string{"-scenarios", "one,two"}, wantErr: "-scenarios"},
		{args: []string{"-three-rtt", "20,100"}, wantErr: "-three-rtt"},
		{args: []string{"-runs", "0"}, wantErr: "-runs"},
		{args: []string{"-size", "lots"}, wantErr: "-size"},
		{args: []string{"-url-hash", "md5"}, wantErr: "-url-hash"},
		{args: []string{"extra"}, wantErr: "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			fs := flag.NewFlagSet("wanbench", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			o, err := parseFlags(fs, tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want one naming %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, o)
		})
	}
}

func TestPlan(t *testing.T) {
	fs := flag.NewFlagSet("wanbench", flag.ContinueOnError)
	o, err := parseFlags(fs, nil)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, c := range plan(o) {
		count[c.Scenario]++
		// A run at link rate takes -seconds, within a MiB of rounding.
		if c.Scenario == "one" && (c.ideal() < 9*time.Second || c.ideal() > 9*time.Second+time.Second/2) {
			t.Errorf("%s: ideal %s, want ~9 s", c.label(), c.ideal())
		}
		if c.Cap < 60*time.Second || c.Cap < 4*c.ideal() {
			t.Errorf("%s: cap %s, want at least max(60 s, 4 x %s)", c.label(), c.Cap, c.ideal())
		}
	}
	want := map[string]int{"one": 36, "three": 6, "blackout": 1, "rss": 1}
	for k, v := range want {
		if count[k] != v {
			t.Errorf("%s: %d cells, want %d", k, count[k], v)
		}
	}
}

func TestSummarize(t *testing.T) {
	run := func(outcome string, mbit float64) result {
		return result{Outcome: outcome, Mbit: mbit, PctLink: mbit}
	}
	tests := []struct {
		name string
		runs []result
		want string
	}{
		{"median of three", []result{run("ok", 30), run("ok", 10), run("ok", 20)}, "20 (20%)"},
		{"two: mean of both", []result{run("ok", 10), run("ok", 20)}, "15 (15%)"},
		{"capped in the middle", []result{run("capped", 5), run("ok", 90), run("capped", 7)}, "< 7 (7%)"},
		{"capped below the median", []result{run("capped", 5), run("ok", 90), run("ok", 80)}, "80 (80%)"},
		{"failures apart", []result{run("failed", 0), run("ok", 50), run("corrupt", 0)}, "50 (50%) +2 failed"},
		{"all failed", []result{run("failed", 0)}, "failed (1)"},
	}
	for _, tt := range tests {
		if got := summarize(tt.runs).String(); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestRatio(t *testing.T) {
	ok := func(m float64) summary { return summary{n: 1, mbit: m} }
	capped := func(m float64) summary { return summary{n: 1, mbit: m, capped: true} }
	tests := []struct {
		rtp, base summary
		want      string
	}{
		{ok(120), ok(100), "1.20x"},
		{ok(120), capped(10), "> 12.00x"},
		{capped(5), ok(100), "< 0.05x"},
		{capped(5), capped(10), "0.50x (both capped)"},
		{summary{}, ok(100), ""},
	}
	for _, tt := range tests {
		if got := ratio(tt.rtp, tt.base); got != tt.want {
			t.Errorf("ratio(%+v, %+v) = %q, want %q", tt.rtp, tt.base, got, tt.want)
		}
	}
}

func TestRTPGetSummary(t *testing.T) {
	out := []byte("{\n  \"length\": 100,\n  \"fetched_bytes\": 130,\n  \"servers\": [\n    {\"server\": \"a\", \"retries\": 2},\n    {\"server\": \"b\", \"retries\": 3}\n  ]\n}\n")
	if f, r := rtpgetSummary(out); f != 130 || r != 5 {
		t.Errorf("fetched %d retries %d, want 130 and 5", f, r)
	}
	if f, r := rtpgetSummary([]byte("not json")); f != 0 || r != 0 {
		t.Errorf("garbage gave fetched %d retries %d", f, r)
	}
}
