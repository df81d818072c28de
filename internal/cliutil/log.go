package cliutil

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
)

// LogFormats are the values of --log-format: auto is human on a terminal,
// else text.
var LogFormats = []string{"auto", "human", "text", "json"}

// NewLogger returns a logger writing to f at level in format:
//
//   - "text": slog's key=value lines (time=… level=INFO msg=… dial=…), for
//     log collectors and the tests that read the log;
//   - "json": one JSON object a line;
//   - "human": "NAME: message key=value", "NAME: warning: …", with no
//     time and no key a message already shows, for a person;
//   - "auto" or "": human when f is a terminal, else text.
func NewLogger(name string, f *os.File, format string, level slog.Leveler) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: level}
	switch format {
	case "", "auto":
		if IsTerminal(f) {
			return slog.New(NewHumanHandler(name, f, opts)), nil
		}
		return slog.New(slog.NewTextHandler(f, opts)), nil
	case "human":
		return slog.New(NewHumanHandler(name, f, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(f, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(f, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: want %s", format, strings.Join(LogFormats, ", "))
}

// HumanHandler writes a record as one line for a person: the program's
// name, the level unless it is info, the message, then the attributes
// whose values the message does not already show, as key=value. Control
// characters are escaped, so a file name cannot drive the terminal.
type HumanHandler struct {
	name   string
	opts   slog.HandlerOptions
	mu     *sync.Mutex
	w      io.Writer
	prefix string      // group names, "g." each
	attrs  []slog.Attr // from WithAttrs, keys with their groups
}

// NewHumanHandler returns a HumanHandler writing to w; opts may be nil.
func NewHumanHandler(name string, w io.Writer, opts *slog.HandlerOptions) *HumanHandler {
	h := &HumanHandler{name: name, w: w, mu: new(sync.Mutex)}
	if opts != nil {
		h.opts = *opts
	}
	return h
}

// Enabled reports whether level is at least the handler's.
func (h *HumanHandler) Enabled(_ context.Context, level slog.Level) bool {
	lvl := slog.LevelInfo
	if h.opts.Level != nil {
		lvl = h.opts.Level.Level()
	}
	return level >= lvl
}

// WithAttrs returns a handler that adds attrs to every line.
func (h *HumanHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	h2 := *h
	h2.attrs = slices.Clone(h.attrs)
	for _, a := range attrs {
		h2.attrs = appendAttr(h2.attrs, h.prefix, a)
	}
	return &h2
}

// WithGroup returns a handler that puts later keys under name.
func (h *HumanHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.prefix += name + "."
	return &h2
}

// Handle writes r as one line.
func (h *HumanHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(h.name)
	b.WriteString(": ")
	switch {
	case r.Level >= slog.LevelError:
		b.WriteString("error: ")
	case r.Level >= slog.LevelWarn:
		b.WriteString("warning: ")
	case r.Level < slog.LevelInfo:
		b.WriteString("debug: ")
	}
	b.WriteString(escape(r.Message))
	attrs := slices.Clone(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		attrs = appendAttr(attrs, h.prefix, a)
		return true
	})
	for _, a := range attrs {
		v := value(a.Value)
		if v != "" && strings.Contains(r.Message, v) {
			continue // "listening on tcp!…" needs no dial=tcp!…
		}
		b.WriteByte(' ')
		b.WriteString(escape(a.Key))
		b.WriteByte('=')
		if v == "" || strings.ContainsFunc(v, func(r rune) bool {
			return unicode.IsSpace(r) || r == '"' || r == '=' || unicode.IsControl(r)
		}) {
			v = strconv.Quote(v)
		}
		b.WriteString(v)
	}
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

// appendAttr appends a, its key under prefix, groups flattened.
func appendAttr(attrs []slog.Attr, prefix string, a slog.Attr) []slog.Attr {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return attrs
	}
	if a.Value.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range a.Value.Group() {
			attrs = appendAttr(attrs, p, g)
		}
		return attrs
	}
	a.Key = prefix + a.Key
	return append(attrs, a)
}

// value is v as a person reads it.
func value(v slog.Value) string {
	switch v.Kind() {
	case slog.KindDuration:
		return v.Duration().String()
	case slog.KindTime:
		return v.Time().Format(time.RFC3339)
	}
	return v.String()
}

// escape writes control characters as Go escapes.
func escape(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
