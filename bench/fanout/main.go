// Command fanout measures a tier of edges in network namespaces: one
// origin rtpd over an S3 bucket (versitygw) behind a rate-limited link,
// -edges pull-through edges, and -clients rtpget clients behind each edge,
// all fetching the same object at once. Then, for comparison, the same
// clients fetch it from the origin directly, through the same links.
// See README.md; it needs root (ip netns, tc tbf) and versitygw.
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"lukechampine.com/blake3"

	"github.com/rtp-project/rtp/bench/wan"
	"github.com/rtp-project/rtp/internal/s3test"
)

var (
	flagSize     = flag.Int64("size", 1e9, "bytes of the object (1 GB)")
	flagRate     = flag.Int("rate", 200, "Mbit/s of the origin's link and of each edge's link to its clients")
	flagEdges    = flag.Int("edges", 4, "edges")
	flagClients  = flag.Int("clients", 4, "clients behind each edge")
	flagDirect   = flag.Bool("direct", true, "also time the clients fetching from the origin directly")
	flagSiblings = flag.Bool("siblings", false, "list the other edges as upstreams of each edge, after the origin")
	flagBin      = flag.String("bin", "", "folder with rtpd and rtpget (default: go build them)")
	flagDir      = flag.String("dir", "", "folder for the bucket, the caches and the downloads (default: a temporary folder)")
	flagVerbose  = flag.Bool("v", false, "copy every rtpd's log to stderr")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "fanout:", err)
		os.Exit(1)
	}
}

// bench is one run's topology and processes, torn down by close.
type bench struct {
	dir, bin   string
	namespaces []string
	origin     string   // its namespace
	edges      []string // their namespaces
	clients    []string // one namespace per edge, holding that edge's clients
	procs      []*exec.Cmd
	url        string // without s=
	sum        string // sha256 hex
}

func run() error {
	gwBin, err := s3test.Binary()
	if err != nil {
		return err
	}
	b := &bench{dir: *flagDir, bin: *flagBin}
	if b.dir == "" {
		if b.dir, err = os.MkdirTemp("", "fanout-"); err != nil {
			return err
		}
		defer os.RemoveAll(b.dir)
	}
	if b.bin == "" {
		b.bin = filepath.Join(b.dir, "bin")
		out, err := exec.Command("go", "build", "-o", b.bin+"/", "./cmd/rtpd", "./cmd/rtpget").CombinedOutput()
		if err != nil {
			return fmt.Errorf("go build: %v\n%s", err, out)
		}
	}
	defer b.close()

	gw, err := b.fillBucket(gwBin)
	if err != nil {
		return err
	}
	if err := b.topology(); err != nil {
		return err
	}
	if err := b.startOrigin(gwBin, gw); err != nil {
		return err
	}
	var ups []string
	for i := range b.edges {
		ups = append(ups, fmt.Sprintf("tcp!10.77.%d.2!7777", i+1))
	}
	for i, ns := range b.edges {
		args := []string{"--upstream", "tcp!10.77.0.2!7777"}
		if *flagSiblings {
			for j, u := range ups {
				if j != i {
					args = append(args, "--upstream", u)
				}
			}
		}
		args = append(args, "--cache", filepath.Join(b.dir, fmt.Sprintf("edge%d", i+1)), "--cache-size", "3G")
		if _, err := b.rtpd(ns, fmt.Sprintf("edge%d", i+1), args...); err != nil {
			return err
		}
	}
	rateBps := float64(*flagRate) * 1e6 / 8
	ideal := time.Duration(float64(*flagClients) * float64(*flagSize) / rateBps * float64(time.Second))
	fmt.Printf("%d edges x %d clients, %d-byte object, links %d Mbit/s: the ideal time of an edge's link for its %d clients is %s\n",
		len(b.edges), *flagClients, *flagSize, *flagRate, *flagClients, ideal.Round(time.Millisecond))

	before, err := b.originOut()
	if err != nil {
		return err
	}
	times, err := b.fetchAll(func(edge int) string { return fmt.Sprintf("tcp!10.78.%d.1!7777", edge+1) }, "via-edges")
	if err != nil {
		return err
	}
	after, err := b.originOut()
	if err != nil {
		return err
	}
	b.report("via edges", times, ideal, before, after)

	if *flagDirect {
		direct := time.Duration(float64(len(b.edges)**flagClients) * float64(*flagSize) / rateBps * float64(time.Second))
		fmt.Printf("direct: the ideal time of the origin's link for all %d clients is %s\n", len(b.edges)**flagClients, direct.Round(time.Millisecond))
		before = after
		times, err = b.fetchAll(func(int) string { return "tcp!10.77.0.2!7777" }, "direct")
		if err != nil {
			return err
		}
		if after, err = b.originOut(); err != nil {
			return err
		}
		b.report("direct from the origin", times, direct, before, after)
	}
	return nil
}

// fillBucket puts the object into a bucket with a versitygw on the host's
// loopback, stopped before the origin's versitygw serves the same folder in
// its namespace.
func (b *bench) fillBucket(gwBin string) (*s3test.Server, error) {
	data := filepath.Join(b.dir, "s3")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, err
	}
	gw, err := s3test.Launch(gwBin, data)
	if err != nil {
		return nil, err
	}
	defer gw.Stop()
	c, err := gw.Client()
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	if err := c.MakeBucket(ctx, "bench", minio.MakeBucketOptions{}); err != nil {
		return nil, err
	}
	sha, b3 := sha256.New(), blake3.New(32, nil)
	src := io.TeeReader(io.LimitReader(rand.NewChaCha8([32]byte{'f', 'a', 'n'}), *flagSize), io.MultiWriter(sha, b3))
	if _, err := c.Client.PutObject(ctx, "bench", "object.bin", src, *flagSize, minio.PutObjectOptions{}); err != nil {
		return nil, err
	}
	b.sum = hex.EncodeToString(sha.Sum(nil))
	b.url = fmt.Sprintf("rtp:?u=urn:blake3:%x&u=urn:sha256:%s&l=%d", b3.Sum(nil), b.sum, *flagSize)
	return gw, nil
}

// topology makes the namespaces and links:
//
//	origin 10.77.0.2 -[rate]- router -[unlimited]- edge i 10.77.i.2
//	edge i 10.78.i.1 -[rate]- clients of edge i 10.78.i.2
//
// Rates are tbf on the sender's side: the origin's egress, and each edge's
// egress to its clients. The router and the edges forward, so the clients
// reach the origin through their edge's link and the origin's.
func (b *bench) topology() error {
	mk := func(prefix string) (string, error) {
		ns, err := wan.NewNamespace(prefix)
		if err == nil {
			b.namespaces = append(b.namespaces, ns)
		}
		return ns, err
	}
	router, err := mk("fo-r-")
	if err != nil {
		return err
	}
	if b.origin, err = mk("fo-o-"); err != nil {
		return err
	}
	cmds := [][]string{
		{"ip", "-n", router, "link", "add", "r0", "type", "veth", "peer", "name", "o0", "netns", b.origin},
		{"ip", "-n", router, "addr", "add", "10.77.0.1/24", "dev", "r0"},
		{"ip", "-n", router, "link", "set", "r0", "up"},
		{"ip", "-n", b.origin, "addr", "add", "10.77.0.2/24", "dev", "o0"},
		{"ip", "-n", b.origin, "link", "set", "o0", "up"},
		{"ip", "-n", b.origin, "route", "add", "default", "via", "10.77.0.1"},
		{"ip", "netns", "exec", router, "sysctl", "-qw", "net.ipv4.ip_forward=1"},
	}
	cmds = append(cmds, tbf(b.origin, "o0")...)
	for i := 1; i <= *flagEdges; i++ {
		e, err := mk("fo-e-")
		if err != nil {
			return err
		}
		c, err := mk("fo-c-")
		if err != nil {
			return err
		}
		b.edges, b.clients = append(b.edges, e), append(b.clients, c)
		r, u, d := fmt.Sprintf("r%d", i), fmt.Sprintf("10.77.%d", i), fmt.Sprintf("10.78.%d", i)
		cmds = append(cmds,
			[]string{"ip", "-n", router, "link", "add", r, "type", "veth", "peer", "name", "up0", "netns", e},
			[]string{"ip", "-n", router, "addr", "add", u + ".1/24", "dev", r},
			[]string{"ip", "-n", router, "link", "set", r, "up"},
			[]string{"ip", "-n", router, "route", "add", d + ".0/24", "via", u + ".2"},
			[]string{"ip", "-n", e, "addr", "add", u + ".2/24", "dev", "up0"},
			[]string{"ip", "-n", e, "link", "set", "up0", "up"},
			[]string{"ip", "-n", e, "route", "add", "default", "via", u + ".1"},
			[]string{"ip", "-n", e, "link", "add", "down0", "type", "veth", "peer", "name", "c0", "netns", c},
			[]string{"ip", "-n", e, "addr", "add", d + ".1/24", "dev", "down0"},
			[]string{"ip", "-n", e, "link", "set", "down0", "up"},
			[]string{"ip", "netns", "exec", e, "sysctl", "-qw", "net.ipv4.ip_forward=1"},
			[]string{"ip", "-n", c, "addr", "add", d + ".2/24", "dev", "c0"},
			[]string{"ip", "-n", c, "link", "set", "c0", "up"},
			[]string{"ip", "-n", c, "route", "add", "default", "via", d + ".1"},
		)
		cmds = append(cmds, tbf(e, "down0")...)
	}
	for _, c := range cmds {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v: %s", strings.Join(c, " "), err, out)
		}
	}
	return nil
}

// tbf limits dev's egress to -rate, with a queue of 20 ms at that rate
// and a bucket of 256 KiB (tbf splits a segmentation-offload packet larger
// than the bucket).
func tbf(ns, dev string) [][]string {
	rate := strconv.Itoa(*flagRate) + "mbit"
	return [][]string{
		{"ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", dev, "root", "tbf", "rate", rate, "burst", "256kb", "latency", "20ms"},
	}
}

func (b *bench) startOrigin(gwBin string, gw *s3test.Server) error {
	cmd := exec.Command("ip", "netns", "exec", b.origin, gwBin, "--port", "127.0.0.1:7070", "posix", gw.Dir)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY_ID="+gw.AccessKey, "ROOT_SECRET_ACCESS_KEY="+gw.SecretKey)
	if *flagVerbose {
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	b.procs = append(b.procs, cmd)
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := wan.InNamespace(b.origin, func() error {
			c, err := net.DialTimeout("tcp", "127.0.0.1:7070", time.Second)
			if err == nil {
				c.Close()
			}
			return err
		})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("versitygw in the origin's namespace: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	secret := filepath.Join(b.dir, "secret")
	if err := os.WriteFile(secret, []byte(gw.SecretKey), 0o600); err != nil {
		return err
	}
	_, err := b.rtpd(b.origin, "origin", "--index", filepath.Join(b.dir, "origin-index", "index.db"),
		"--s3-endpoint", "http://127.0.0.1:7070", "--s3-access-key-id", gw.AccessKey, "--s3-secret-access-key-file", secret,
		"s3://bench/")
	return err
}

var listening = regexp.MustCompile(`listening on .* dial=(\S+)`)

// rtpd runs rtpd serve in namespace ns on port 7777 with metrics on 9100,
// and returns once it listens.
func (b *bench) rtpd(ns, name string, args ...string) (*exec.Cmd, error) {
	all := append([]string{"netns", "exec", ns, filepath.Join(b.bin, "rtpd"), "serve", "--log-format", "text",
		"--listen", "tcp!0.0.0.0!7777", "--metrics", "tcp!0.0.0.0!9100"}, args...)
	cmd := exec.Command("ip", all...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	b.procs = append(b.procs, cmd)
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		line := sc.Text()
		if *flagVerbose {
			fmt.Fprintln(os.Stderr, name+":", line)
		}
		if listening.MatchString(line) {
			go func() {
				for sc.Scan() {
					if *flagVerbose {
						fmt.Fprintln(os.Stderr, name+":", sc.Text())
					}
				}
			}()
			return cmd, nil
		}
	}
	return nil, fmt.Errorf("%s exited before listening", name)
}

// out is what the origin sent: its RTP READ payloads (blob and tree) from
// its metrics, and every byte its link carried.
type out struct{ payload, link float64 }

func (b *bench) originOut() (out, error) {
	var o out
	m, err := exec.Command("ip", "netns", "exec", b.origin, "curl", "-sf", "http://127.0.0.1:9100/metrics").Output()
	if err != nil {
		return o, fmt.Errorf("origin metrics: %w", err)
	}
	for _, line := range strings.Split(string(m), "\n") {
		if strings.HasPrefix(line, "rtpd_read_bytes_total{") {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			o.payload += v
		}
	}
	tx, err := exec.Command("ip", "netns", "exec", b.origin, "cat", "/sys/class/net/o0/statistics/tx_bytes").Output()
	if err != nil {
		return o, err
	}
	o.link, err = strconv.ParseFloat(strings.TrimSpace(string(tx)), 64)
	return o, err
}

// fetchAll starts every client at once, each fetching from server(its
// edge), waits for all, checks every file's sha256, and returns each
// client's time, by edge.
func (b *bench) fetchAll(server func(edge int) string, tag string) ([][]time.Duration, error) {
	times := make([][]time.Duration, len(b.clients))
	errs := make(chan error, len(b.clients)**flagClients)
	var wg sync.WaitGroup
	start := time.Now()
	for e, ns := range b.clients {
		times[e] = make([]time.Duration, *flagClients)
		for k := range *flagClients {
			file := filepath.Join(b.dir, fmt.Sprintf("%s-e%d-c%d.bin", tag, e+1, k+1))
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer os.Remove(file)
				cmd := exec.Command("ip", "netns", "exec", ns, filepath.Join(b.bin, "rtpget"), "-q", "--retry-for", "5m", "-o", file, b.url+"&s="+server(e))
				o, err := cmd.CombinedOutput()
				times[e][k] = time.Since(start)
				if err != nil {
					errs <- fmt.Errorf("client %d of edge %d: %v\n%s", k+1, e+1, err, o)
					return
				}
				if err := checkSum(file, b.sum); err != nil {
					errs <- fmt.Errorf("client %d of edge %d: %w", k+1, e+1, err)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return times, errors.Join(all...)
}

func checkSum(file, want string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("sha256 %s, want %s", got, want)
	}
	return nil
}

func (b *bench) report(what string, times [][]time.Duration, ideal time.Duration, before, after out) {
	var all []time.Duration
	fmt.Printf("%s:\n", what)
	for e, ts := range times {
		var s []string
		for _, t := range ts {
			s = append(s, fmt.Sprintf("%.1fs (%.2fx)", t.Seconds(), t.Seconds()/ideal.Seconds()))
		}
		fmt.Printf("  edge %d's clients: %s\n", e+1, strings.Join(s, ", "))
		all = append(all, ts...)
	}
	worst := slices.Max(all)
	fmt.Printf("  slowest client %.1fs = %.2fx the ideal %.1fs; origin sent %.3f GB of READ payload (%.2f objects), its link carried %.3f GB\n",
		worst.Seconds(), worst.Seconds()/ideal.Seconds(), ideal.Seconds(),
		(after.payload-before.payload)/1e9, (after.payload-before.payload)/float64(*flagSize), (after.link-before.link)/1e9)
}

func (b *bench) close() {
	for _, p := range b.procs {
		p.Process.Signal(os.Interrupt)
	}
	for _, p := range b.procs {
		done := make(chan struct{})
		go func() { p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			p.Process.Kill()
			<-done
		}
	}
	for _, ns := range b.namespaces {
		wan.DeleteNamespace(ns)
	}
}
