package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// rtpdLog reads rtpd's log as proc.StartRTPD copies it ("rtpd: LINE" per
// write): it finds the faces' addresses, counts levels, and keeps every
// line from the first panic, fatal error or data race on.
type rtpdLog struct {
	mu     sync.Mutex
	part   []byte
	full   io.Writer // every line, or nil
	last   []string  // the last lines
	addrs  map[string]string
	bad    []string // the first bad line and those after it
	levels map[string]int
}

var (
	faceRE  = regexp.MustCompile(`(?:^|\s)(metrics|http|gemini)=(\S+)`)
	levelRE = regexp.MustCompile(`(?:^|\s)level=(\S+)`)
	badRE   = regexp.MustCompile(`^panic: |^fatal error: |DATA RACE|^SIGSEGV|^unexpected fault`)
)

func newRTPDLog(full io.Writer) *rtpdLog {
	return &rtpdLog{full: full, addrs: make(map[string]string), levels: make(map[string]int)}
}

func (l *rtpdLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.part = append(l.part, p...)
	for {
		i := bytes.IndexByte(l.part, '\n')
		if i < 0 {
			break
		}
		l.line(strings.TrimPrefix(string(l.part[:i]), "rtpd: "))
		l.part = l.part[i+1:]
	}
	return len(p), nil
}

func (l *rtpdLog) line(s string) {
	if l.full != nil {
		fmt.Fprintln(l.full, s)
	}
	l.last = append(l.last[max(0, len(l.last)-39):], s)
	if m := faceRE.FindStringSubmatch(s); m != nil {
		if _, ok := l.addrs[m[1]]; !ok {
			l.addrs[m[1]] = m[2]
		}
	}
	if m := levelRE.FindStringSubmatch(s); m != nil {
		l.levels[strings.ToLower(m[1])]++
	}
	if (len(l.bad) > 0 || badRE.MatchString(s)) && len(l.bad) < 80 {
		l.bad = append(l.bad, s)
	}
}

// addr returns the dial string rtpd logged for a face, or "".
func (l *rtpdLog) addr(face string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.addrs[face]
}

// trouble returns the first bad line and what followed it, or "".
func (l *rtpdLog) trouble() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.bad, "\n")
}

func (l *rtpdLog) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.last, "\n")
}

func (l *rtpdLog) levelCounts() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := make(map[string]int, len(l.levels))
	for k, v := range l.levels {
		m[k] = v
	}
	return m
}

// hostPort turns tcp!HOST!PORT into HOST:PORT.
func hostPort(dial string) string {
	f := strings.Split(dial, "!")
	if len(f) != 3 {
		return dial
	}
	if strings.Contains(f[1], ":") {
		return "[" + f[1] + "]:" + f[2]
	}
	return f[1] + ":" + f[2]
}

var httpc = &http.Client{Timeout: 10 * time.Second}

// get fetches url and fails unless it answers 200.
func get(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := httpc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return b, fmt.Errorf("GET %s: %s: %s", url, resp.Status, bytes.TrimSpace(b))
	}
	return b, nil
}

// parseMetrics reads the Prometheus text format into "name{labels}" ->
// value.
func parseMetrics(b []byte) map[string]float64 {
	m := make(map[string]float64)
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			m[line[:i]] = v
		}
	}
	return m
}

// hashClock integrates how long rtpd has spent in index passes, from its
// rtpd_hash_pass_running gauge sampled by watch: the time a file waits to
// be hashed behind other files is not held against rtpd.
type hashClock struct {
	mu   sync.Mutex
	at   []time.Time
	busy []time.Duration // cumulative, at at[i]
	prev bool
	last map[string]float64
	n    int
}

// sample adds a scrape taken at t. An interval counts as busy when either
// end saw a pass running.
func (c *hashClock) sample(t time.Time, m map[string]float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	running := m["rtpd_hash_pass_running"] > 0
	var cum time.Duration
	if n := len(c.at); n > 0 {
		cum = c.busy[n-1]
		if running || c.prev {
			cum += t.Sub(c.at[n-1])
		}
	}
	c.at, c.busy, c.prev, c.last = append(c.at, t), append(c.busy, cum), running, m
	c.n++
}

// busyAt is the hashing time up to t (as of the last sample before it).
func (c *hashClock) busyAt(t time.Time) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := sort.Search(len(c.at), func(i int) bool { return c.at[i].After(t) })
	if i == 0 {
		return 0
	}
	return c.busy[i-1]
}

// busyNow is the hashing time up to the last sample.
func (c *hashClock) busyNow() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.busy) == 0 {
		return 0
	}
	return c.busy[len(c.busy)-1]
}

func (c *hashClock) metrics() map[string]float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}
