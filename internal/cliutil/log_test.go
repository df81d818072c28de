package cliutil

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"
)

func TestHumanHandler(t *testing.T) {
	var b bytes.Buffer
	log := slog.New(NewHumanHandler("rtpd", &b, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cases := []struct {
		log  func()
		want string
	}{
		{func() { log.Info("listening on tcp!0.0.0.0!7777", "dial", "tcp!0.0.0.0!7777") }, "rtpd: listening on tcp!0.0.0.0!7777"},
		{func() { log.Info("tls certificate", "sha256", "ab12") }, "rtpd: tls certificate sha256=ab12"},
		{func() { log.Warn("server failed", "s", "tcp!h!1", "err", errors.New("connection refused")) }, `rtpd: warning: server failed s=tcp!h!1 err="connection refused"`},
		{func() { log.Error("listener failed", "err", errors.New("x")) }, "rtpd: error: listener failed err=x"},
		{func() { log.Debug("read", "n", 3, "took", 1500*time.Millisecond) }, "rtpd: debug: read n=3 took=1.5s"},
		{func() { log.With("line", 2).WithGroup("g").Info("m", "k", "", "e", `a"b`) }, `rtpd: m line=2 g.k="" g.e="a\"b"`},
		{func() { log.Info("name \x1b[31mred\n", "dn", "a\x07b") }, `rtpd: name \x1b[31mred\n dn="a\ab"`},
		{func() { log.Info("grouped", slog.Group("s", "a", 1, "b", 2)) }, "rtpd: grouped s.a=1 s.b=2"},
	}
	for _, c := range cases {
		b.Reset()
		c.log()
		if got := strings.TrimSuffix(b.String(), "\n"); got != c.want || strings.Count(b.String(), "\n") != 1 {
			t.Errorf("got  %q\nwant %q", b.String(), c.want)
		}
	}
	b.Reset()
	slog.New(NewHumanHandler("rtpget", &b, &slog.HandlerOptions{Level: slog.LevelWarn})).Info("hidden")
	if b.Len() != 0 {
		t.Errorf("info at level warn: %q", b.String())
	}
}

// TestNewLoggerFormats: auto is human on a terminal and key=value on a
// pipe; text, json and human whatever stderr is; anything else an error.
func TestNewLoggerFormats(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, c := range []struct {
		format string
		check  func(string) bool
	}{
		{"auto", func(s string) bool {
			return strings.HasPrefix(s, "time=") && strings.Contains(s, `level=INFO msg="listening on x" dial=x`)
		}},
		{"text", func(s string) bool { return strings.HasPrefix(s, "time=") }},
		{"json", func(s string) bool {
			var m map[string]any
			return json.Unmarshal([]byte(s), &m) == nil && m["dial"] == "x"
		}},
		{"human", func(s string) bool { return s == "t: listening on x\n" }},
	} {
		log, err := NewLogger("t", w, c.format, slog.LevelInfo)
		if err != nil {
			t.Fatalf("%s: %v", c.format, err)
		}
		log.Info("listening on x", "dial", "x")
		buf := make([]byte, 4096)
		n, _ := r.Read(buf)
		if !c.check(string(buf[:n])) {
			t.Errorf("--log-format %s on a pipe: %q", c.format, buf[:n])
		}
	}
	w.Close()
	if _, err := NewLogger("t", os.Stderr, "yaml", slog.LevelInfo); err == nil {
		t.Error("log format yaml: no error")
	}
}
