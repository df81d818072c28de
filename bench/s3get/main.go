// Command s3get measures on loopback how close one rtpget download from an
// rtpd serving an S3 bucket comes to one plain S3 GET of the same object,
// with the same S3 client library rtpd uses (minio-go), in the same run.
//
// It starts versitygw (a real S3 server, see internal/s3test) over a
// temporary folder, puts one -size object of random bytes in a bucket,
// starts `rtpd serve s3://bench/` on 127.0.0.1 and waits for its index
// pass, then alternates -n times: a plain GET of the whole object, written
// to a file, and `rtpget -o FILE rtp:…` of it from rtpd (which reads the
// bucket with ranged GETs and verifies as it goes), and rtpget of the same
// file from an rtpd serving it from the disk (the store's cost left out).
// It prints each run, with each process's CPU time, and the medians and
// their ratios. From the module root, with versitygw
// installed (make versitygw):
//
//	go run ./bench/s3get -n 5
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"lukechampine.com/blake3"

	"github.com/rtp-project/rtp/internal/s3test"
)

var (
	flagN       = flag.Int("n", 3, "downloads of each kind; the medians are compared")
	flagSize    = flag.Int64("size", 1<<30, "bytes of the object")
	flagBin     = flag.String("bin", "", "folder with rtpd and rtpget (default: go build them)")
	flagDir     = flag.String("dir", "", "folder for versitygw's data, rtpd's index and the downloads (default: a temporary folder)")
	flagVerbose = flag.Bool("v", false, "copy rtpd's log to stderr")
	flagHash    = flag.String("url-hash", "blake3", "urns in rtpget's URL: blake3 (as rtpd url prints by default; checked against rtpd's tree as the bytes come) or both (rtpd url --hash both: blake3 and sha256, each checked; the difference is what the sha256 pass costs)")
)

func main() {
	flag.Parse()
	if *flagHash != "both" && *flagHash != "blake3" {
		fmt.Fprintf(os.Stderr, "s3get: -url-hash %q: want blake3 or both\n", *flagHash)
		os.Exit(2)
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "s3get:", err)
		os.Exit(1)
	}
}

func run() error {
	gwBin, err := s3test.Binary()
	if err != nil {
		return err
	}
	dir := *flagDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "s3get-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	bin := *flagBin
	if bin == "" {
		bin = filepath.Join(dir, "bin")
		out, err := exec.Command("go", "build", "-o", bin+"/", "./cmd/rtpd", "./cmd/rtpget").CombinedOutput()
		if err != nil {
			return fmt.Errorf("go build: %v\n%s", err, out)
		}
	}
	data := filepath.Join(dir, "s3")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return err
	}
	gw, err := s3test.Launch(gwBin, data)
	if err != nil {
		return err
	}
	defer gw.Stop()
	c, err := gw.Client()
	if err != nil {
		return err
	}
	ctx := context.Background()
	if err := c.MakeBucket(ctx, "bench", minio.MakeBucketOptions{}); err != nil {
		return err
	}

	// The object: random bytes, hashed on the way up.
	sha, b3 := sha256.New(), blake3.New(32, nil)
	src := io.TeeReader(io.LimitReader(rand.NewChaCha8([32]byte{'s', '3'}), *flagSize), io.MultiWriter(sha, b3))
	start := time.Now()
	if _, err := c.Client.PutObject(ctx, "bench", "object.bin", src, *flagSize, minio.PutObjectOptions{}); err != nil {
		return err
	}
	fmt.Printf("put %d bytes in %s\n", *flagSize, time.Since(start).Round(time.Millisecond))
	url := fmt.Sprintf("rtp:?u=urn:blake3:%s&u=urn:sha256:%s&l=%d", hexSum(b3), hexSum(sha), *flagSize)
	if *flagHash == "blake3" {
		url = fmt.Sprintf("rtp:?u=urn:blake3:%s&l=%d", hexSum(b3), *flagSize)
	}

	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte(gw.SecretKey), 0o600); err != nil {
		return err
	}
	rtpd, dial, err := startRTPD(filepath.Join(bin, "rtpd"), "--index", filepath.Join(dir, "index", "index.db"),
		"--s3-endpoint", gw.Endpoint, "--s3-access-key-id", gw.AccessKey, "--s3-secret-access-key-file", secret,
		"s3://bench/")
	if err != nil {
		return err
	}
	defer func() { rtpd.Process.Signal(os.Interrupt); rtpd.Wait() }()
	// The same file, served from the disk by another rtpd: what rtpget
	// reaches when the store costs nothing.
	disk, diskDial, err := startRTPD(filepath.Join(bin, "rtpd"), "--index", filepath.Join(dir, "index-disk", "index.db"), filepath.Join(data, "bench"))
	if err != nil {
		return err
	}
	defer func() { disk.Process.Signal(os.Interrupt); disk.Wait() }()
	diskURL := url + "&s=" + diskDial
	url += "&s=" + dial

	out := filepath.Join(dir, "download.bin")
	var plain, rtp, fromDisk []float64
	gwPid, rtpdPid := gw.Pid(), rtpd.Process.Pid
	for i := range *flagN {
		os.Remove(out)
		gw0, self0 := cpuOf(gwPid), selfCPU()
		d, err := plainGet(ctx, c, out)
		if err != nil {
			return fmt.Errorf("plain GET: %w", err)
		}
		plain = append(plain, mbps(d))
		gwPlain, selfPlain := cpuOf(gwPid)-gw0, selfCPU()-self0
		os.Remove(out)
		gw0, rtpd0 := cpuOf(gwPid), cpuOf(rtpdPid)
		start := time.Now()
		get := exec.Command(filepath.Join(bin, "rtpget"), "-q", "-o", out, url)
		if o, err := get.CombinedOutput(); err != nil {
			return fmt.Errorf("rtpget: %v\n%s", err, o)
		}
		rtp = append(rtp, mbps(time.Since(start)))
		gwRTP, rtpdCPU := cpuOf(gwPid)-gw0, cpuOf(rtpdPid)-rtpd0
		getCPU := get.ProcessState.UserTime() + get.ProcessState.SystemTime()
		os.Remove(out)
		start = time.Now()
		if o, err := exec.Command(filepath.Join(bin, "rtpget"), "-q", "-o", out, diskURL).CombinedOutput(); err != nil {
			return fmt.Errorf("rtpget from the disk: %v\n%s", err, o)
		}
		fromDisk = append(fromDisk, mbps(time.Since(start)))
		fmt.Printf("run %d: plain GET %.0f MB/s (CPU s: versitygw %.2f, client %.2f); rtpget via rtpd over S3 %.0f MB/s (CPU s: versitygw %.2f, rtpd %.2f, rtpget %.2f); rtpget via rtpd over the file %.0f MB/s\n",
			i+1, plain[i], gwPlain.Seconds(), selfPlain.Seconds(), rtp[i], gwRTP.Seconds(), rtpdCPU.Seconds(), getCPU.Seconds(), fromDisk[i])
	}
	os.Remove(out)
	mp, mr, md := median(plain), median(rtp), median(fromDisk)
	fmt.Printf("median of %d: plain GET %.0f MB/s, rtpget via rtpd over S3 %.0f MB/s: ratio %.2f; rtpget via rtpd over the file %.0f MB/s: S3/file %.2f\n", *flagN, mp, mr, mr/mp, md, mr/md)
	return nil
}

// plainGet downloads the whole object with one GET into a file, as rtpget
// writes its output, and returns how long it took.
func plainGet(ctx context.Context, c *minio.Core, out string) (time.Duration, error) {
	start := time.Now()
	f, err := os.Create(out)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	body, _, _, err := c.GetObject(ctx, "bench", "object.bin", minio.GetObjectOptions{})
	if err != nil {
		return 0, err
	}
	defer body.Close()
	n, err := io.Copy(f, body)
	if err == nil && n != *flagSize {
		err = fmt.Errorf("got %d bytes of %d", n, *flagSize)
	}
	if err == nil {
		err = f.Close()
	}
	return time.Since(start), err
}

// startRTPD runs rtpd serve with args on a loopback port and returns once
// it listens, after its index pass.
func startRTPD(bin string, args ...string) (*exec.Cmd, string, error) {
	cmd := exec.Command(bin, append([]string{"serve", "--listen", "tcp!127.0.0.1!0", "--log-format", "text"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, "", err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	dial, err := waitListening(stderr)
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, "", err
	}
	fmt.Printf("rtpd %s indexed and listens on %s after %s\n", args[len(args)-1], dial, time.Since(start).Round(time.Millisecond))
	return cmd, dial, nil
}

var listening = regexp.MustCompile(`listening on .* dial=(\S+)`)

// waitListening reads rtpd's log until it listens (after its index pass),
// then keeps draining it.
func waitListening(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if *flagVerbose {
			fmt.Fprintln(os.Stderr, line)
		}
		if m := listening.FindStringSubmatch(line); m != nil {
			go func() {
				for sc.Scan() {
					if *flagVerbose {
						fmt.Fprintln(os.Stderr, sc.Text())
					}
				}
			}()
			return m[1], nil
		}
		if strings.Contains(line, "level=ERROR") {
			return "", fmt.Errorf("rtpd: %s", line)
		}
	}
	return "", fmt.Errorf("rtpd exited before listening")
}

// cpuOf returns the CPU time (user and system) process pid used so far,
// from /proc (0 where there is none).
func cpuOf(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	var ut, st int64
	fmt.Sscan(f[11], &ut)
	fmt.Sscan(f[12], &st)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

func selfCPU() time.Duration { return cpuOf(os.Getpid()) }

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

func mbps(d time.Duration) float64 { return float64(*flagSize) / d.Seconds() / 1e6 }

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
