package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/rtp-project/rtp/gemini"
	"github.com/rtp-project/rtp/internal/cliutil"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/urn"
)

// Flag names, shared by the subcommands that use them.
const (
	flagListen      = "listen"
	flagIndex       = "index"
	flagRescan      = "rescan"
	flagTLSCert     = "tls-cert"
	flagTLSKey      = "tls-key"
	flagMaxRead     = "max-read"
	flagMaxTokens   = "max-open-tokens"
	flagMaxInflight = "max-inflight"
	flagMaxOpening  = "max-opening"
	flagMaxSessions = "max-sessions"
	flagMaxPerHost  = "max-sessions-per-host"
	flagIdleTimeout = "idle-timeout"
	flagHandshake   = "handshake-timeout"
	flagLogLevel    = "log-level"
	flagLogFormat   = "log-format"
	flagServer      = "server"
	flagHashWorkers = "hash-workers"
	flagHash        = "hash"
	flagURLHash     = "url-hash"
	flagNoTrees     = "no-trees"
	flagGemini      = "gemini"
	flagAdvertise   = "advertise"
	flagMetrics     = "metrics"
	flagHTTP        = "http"
	flagHidden      = "hidden"
	flagTCPCC       = "tcp-congestion"
	flagTCPSndbuf   = "tcp-send-buffer"
	flagTCPLowat    = "tcp-notsent-lowat"
)

func envVar(flag string) []string {
	return []string{"RTPD_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))}
}

// urlHashUsage says what --hash (url) and --url-hash (serve) take.
const urlHashUsage = "which urns the rtp: URLs list: blake3 (checked against its tree as the bytes arrive), both (blake3 first; rtpget then also checks the sha256, in one more pass over the file) or sha256 (for clients that know no other)"

// parseURLHash reads the value of flag (--hash or --url-hash): the urn
// kinds an rtp: URL lists, in order.
func parseURLHash(flag, v string) ([]urn.Kind, error) {
	switch v {
	case "blake3":
		return []urn.Kind{urn.BLAKE3}, nil
	case "both":
		return []urn.Kind{urn.BLAKE3, urn.SHA256}, nil
	case "sha256":
		return []urn.Kind{urn.SHA256}, nil
	}
	return nil, cli.Exit(fmt.Sprintf("--%s %q: want blake3, both or sha256", flag, v), 2)
}

// hiddenFlag is --hidden, for serve and ls.
func hiddenFlag() cli.Flag {
	return &cli.BoolFlag{Name: flagHidden, Usage: "also serve dot-files and dot-folders (.git, .env), partial downloads (*.part, *.part.state, *.crdownload) and editor backups (*~, #*#); rtpd index folders, their certificates and keys, and private keys are never served", EnvVars: envVar(flagHidden)}
}

func logLevelFlag() cli.Flag {
	return &cli.StringFlag{Name: flagLogLevel, Value: "info", Usage: "debug, info, warn or error", EnvVars: envVar(flagLogLevel)}
}

func logFormatFlag() cli.Flag {
	return &cli.StringFlag{Name: flagLogFormat, Value: "auto", Usage: "log lines as human (\"rtpd: listening on …\"), text (key=value, with the time) or json; auto is human on a terminal, else text", EnvVars: envVar(flagLogFormat)}
}

// newLogger logs to stderr at the level and in the format the flags name
// (a command without --log-format logs as auto).
func newLogger(c *cli.Context) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.String(flagLogLevel))); err != nil {
		return nil, cli.Exit(fmt.Sprintf("--%s: %v", flagLogLevel, err), 2)
	}
	log, err := cliutil.NewLogger("rtpd", os.Stderr, c.String(flagLogFormat), lvl)
	if err != nil {
		return nil, cli.Exit(fmt.Sprintf("--%s: %v", flagLogFormat, err), 2)
	}
	return log, nil
}

// parseDials parses repeated dial-string flags; a bad one is a usage error.
func parseDials(flag string, vals []string) ([]rtpurl.Dial, error) {
	var ds []rtpurl.Dial
	for _, v := range vals {
		d, err := rtpurl.ParseDial(v)
		if err != nil {
			return nil, cli.Exit(fmt.Sprintf("--%s: %v", flag, err), 2)
		}
		ds = append(ds, d)
	}
	return ds, nil
}

// parseGeminiDials parses --gemini values: tcp!host[!port] (tls! means the
// same, Gemini being TLS over TCP), the port 1965 when omitted.
func parseGeminiDials(vals []string) ([]rtpurl.Dial, error) {
	var ds []rtpurl.Dial
	for _, v := range vals {
		d, err := rtpurl.ParseDial(v)
		if err == nil && d.Proto == rtpurl.QUIC {
			err = fmt.Errorf("dial string %q: Gemini runs over TCP: want tcp!host!port", v)
		}
		if err != nil {
			return nil, cli.Exit(fmt.Sprintf("--%s: %v", flagGemini, err), 2)
		}
		if strings.Count(v, "!") == 1 {
			d.Port = gemini.DefaultPort
		}
		ds = append(ds, d)
	}
	return ds, nil
}

// parseHTTPDials parses --http and --metrics values: tcp!host!port for
// HTTP, tls!host!port for HTTPS with rtpd's certificate. The port must be
// given: HTTP has no RTP default.
func parseHTTPDials(flag string, vals []string) ([]rtpurl.Dial, error) {
	var ds []rtpurl.Dial
	for _, v := range vals {
		d, err := rtpurl.ParseDial(v)
		switch {
		case err != nil:
		case d.Proto == rtpurl.QUIC:
			err = fmt.Errorf("dial string %q: HTTP runs over TCP here: want tcp!host!port or tls!host!port", v)
		case strings.Count(v, "!") != 2:
			err = fmt.Errorf("dial string %q: give the port, e.g. tcp!127.0.0.1!8080", v)
		}
		if err != nil {
			return nil, cli.Exit(fmt.Sprintf("--%s: %v", flag, err), 2)
		}
		ds = append(ds, d)
	}
	return ds, nil
}
