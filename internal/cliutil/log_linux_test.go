package cliutil

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/rtp-project/rtp/internal/rtpdtest"
)

// TestNewLoggerTerminal: on a terminal, auto writes lines for a person.
func TestNewLoggerTerminal(t *testing.T) {
	pty, tty := rtpdtest.OpenPTY(t)
	log, err := NewLogger("rtpget", tty, "auto", slog.LevelInfo)
	if err != nil {
		t.Fatal(err)
	}
	log.Warn("server failed, retrying", "s", "tcp!h!1")
	buf := make([]byte, 4096)
	n, err := pty.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimRight(string(buf[:n]), "\r\n"); got != "rtpget: warning: server failed, retrying s=tcp!h!1" {
		t.Errorf("on a terminal: %q", got)
	}
}
