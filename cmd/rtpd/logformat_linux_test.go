package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/rtp-project/rtp/internal/rtpdtest"
)

// TestLogForAPerson: on a terminal rtpd logs "rtpd: listening on …", not
// time=… level=… lines, and keeps what the message does not say (the
// certificate's fingerprint); --log-format text and json choose those
// whatever stderr is; a pipe gets key=value lines by default (other tests
// read them).
func TestLogForAPerson(t *testing.T) {
	dir := t.TempDir()
	randomFile(t, dir+"/f", 1000)
	state := t.TempDir()
	serve := func(extra ...string) []string {
		return append(append([]string{"serve", "--index", state + "/index.db", "--listen", "tls!127.0.0.1!0"}, extra...), dir)
	}

	pty, tty := rtpdtest.OpenPTY(t)
	p := launch(t, tty, pty, serve()...)
	line := p.waitFor(regexp.MustCompile(`.*listening on.*`))[0]
	if !regexp.MustCompile(`^rtpd: listening on tls!127\.0\.0\.1!\d+$`).MatchString(line) {
		t.Errorf("on a terminal: %q, want rtpd: listening on tls!127.0.0.1!PORT", line)
	}
	log := p.Log()
	if !regexp.MustCompile(`(?m)^rtpd: tls certificate sha256=[0-9a-f]{64}$`).MatchString(log) {
		t.Errorf("on a terminal, no fingerprint line:\n%s", log)
	}
	if strings.Contains(log, "level=") || strings.Contains(log, "time=") {
		t.Errorf("on a terminal, key=value lines:\n%s", log)
	}
	p.cmd.Process.Kill()
	p.exit()

	pty, tty = rtpdtest.OpenPTY(t)
	p = launch(t, tty, pty, serve("--log-format", "text")...)
	if line := p.waitFor(regexp.MustCompile(`.*listening on.*`))[0]; !strings.HasPrefix(line, "time=") || !strings.Contains(line, "level=INFO") {
		t.Errorf("--log-format text on a terminal: %q", line)
	}
	p.cmd.Process.Kill()
	p.exit()

	p = launch(t, nil, nil, serve("--log-format=json")...)
	line = p.waitFor(regexp.MustCompile(`.*listening on.*`))[0]
	var rec map[string]any
	if err := json.Unmarshal([]byte(line), &rec); err != nil || !strings.HasPrefix(rec["dial"].(string), "tls!127.0.0.1!") {
		t.Errorf("--log-format json: %q (%v)", line, err)
	}
	p.cmd.Process.Kill()
	p.exit()

	p = launch(t, nil, nil, serve()...)
	if line := p.waitFor(regexp.MustCompile(`.*listening on.*`))[0]; !strings.HasPrefix(line, "time=") {
		t.Errorf("on a pipe: %q, want key=value", line)
	}
	wantUsageErrors(t, serve("--log-format", "yaml"))
}
