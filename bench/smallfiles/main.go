// Command smallfiles measures rtpd's index pass over many small files
// against `find | xargs -P2 sha256sum` on the same files, and the second
// start over a large unchanged folder.
//
//	go run ./bench/smallfiles                       # 20,000 x 1 KiB; second start of 200,000
//	go run ./bench/smallfiles -second 0 -rounds 5   # only the first index
//	go run ./bench/smallfiles -cold                 # files evicted from the page cache before each run
//
// Both sides are real processes: a built rtpd running `rtpd ls` (sha256,
// blake3 and the BLAKE3 tree of every file, each committed to the index:
// all a real `rtpd ls` does), and `sh -c 'find DIR -type f -print0 | xargs
// -0 -P2 sha256sum'`. Each writes its listing to a file, and every sha256
// of the two listings is compared, so neither side skips work. Before each
// run the files are read once (or, with -cold, evicted with
// POSIX_FADV_DONTNEED), so both see the page cache in the same state. The
// two alternate, which goes first swapping each round, and medians are
// reported: the machine may be shared and noisy.
//
// The second start: a folder of -second files is indexed once, then
// `rtpd ls` runs again on it unchanged -rounds times: walk, stat, compare
// with the index and print the listing.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	n := flag.Int("n", 20000, "small files for the first index")
	size := flag.Int("size", 1024, "bytes in each small file")
	rounds := flag.Int("rounds", 3, "rounds of each measurement; medians are reported")
	second := flag.Int("second", 200000, "files for the second-start measurement (0: skip it)")
	cold := flag.Bool("cold", false, "evict the files from the page cache before each run, instead of reading them first")
	flag.Parse()
	log.SetFlags(0)

	tmp, err := os.MkdirTemp("", "smallfiles-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	defer func() {
		if r := recover(); r != nil {
			os.RemoveAll(tmp)
			log.Fatal(r)
		}
	}()
	rtpd := filepath.Join(tmp, "rtpd")
	if out, err := exec.Command("go", "build", "-o", rtpd, "./cmd/rtpd").CombinedOutput(); err != nil {
		panic(fmt.Sprintf("build rtpd: %v\n%s", err, out))
	}
	cache := "warm: every file read once before each run"
	if *cold {
		cache = "cold: every file evicted (POSIX_FADV_DONTNEED) before each run"
	}
	fmt.Printf("GOMAXPROCS=%d, page cache %s\n", runtime.GOMAXPROCS(0), cache)

	index := filepath.Join(tmp, "index", "index.db")
	if *n > 0 {
		firstIndex(rtpd, tmp, index, *n, *size, *rounds, *cold)
	}
	if *second > 0 {
		secondStart(rtpd, tmp, index, *second, *size, *rounds)
	}
}

// firstIndex times rounds of sha256sum and a first rtpd ls over n files.
func firstIndex(rtpd, tmp, index string, n, size, rounds int, cold bool) {
	dir := filepath.Join(tmp, "small")
	start := time.Now()
	if err := makeFiles(dir, n, size); err != nil {
		panic(err)
	}
	fmt.Printf("first index: %d files of %d bytes (written in %v)\n", n, size, time.Since(start).Round(time.Millisecond))
	var shas, rtpds []float64
	for r := range rounds {
		var tsha, trtpd time.Duration
		var want, got map[string]string
		sha := func() (err error) {
			if err = settle(dir, cold); err == nil {
				tsha, want, err = sha256sum(dir, filepath.Join(tmp, "sha256sum.out"))
			}
			return err
		}
		idx := func() (err error) {
			if err = os.RemoveAll(filepath.Dir(index)); err == nil {
				if err = settle(dir, cold); err == nil {
					trtpd, got, err = rtpdLs(rtpd, dir, index, filepath.Join(tmp, "rtpd.out"))
				}
			}
			return err
		}
		steps := []func() error{sha, idx}
		if r%2 == 1 {
			steps[0], steps[1] = idx, sha
		}
		for _, f := range steps {
			if err := f(); err != nil {
				panic(err)
			}
		}
		if err := same(want, got, n); err != nil {
			panic(err)
		}
		fmt.Printf("round %d: sha256sum %v, rtpd ls %v, rtpd at %.2f x sha256sum's speed\n",
			r+1, tsha.Round(time.Millisecond), trtpd.Round(time.Millisecond), tsha.Seconds()/trtpd.Seconds())
		shas, rtpds = append(shas, tsha.Seconds()), append(rtpds, trtpd.Seconds())
	}
	ms, mr := median(shas), median(rtpds)
	fmt.Printf("first index of %d files, medians: sha256sum -P2 %.3f s, rtpd ls %.3f s (%.0f files/s): rtpd at %.2f x sha256sum's speed\n",
		n, ms, mr, float64(n)/mr, ms/mr)
	os.RemoveAll(dir)
}

// secondStart indexes n files, then times rounds of rtpd ls over them
// unchanged.
func secondStart(rtpd, tmp, index string, n, size, rounds int) {
	dir := filepath.Join(tmp, "many")
	start := time.Now()
	if err := makeFiles(dir, n, size); err != nil {
		panic(err)
	}
	fmt.Printf("second start: %d files of %d bytes (written in %v)\n", n, size, time.Since(start).Round(time.Millisecond))
	os.RemoveAll(filepath.Dir(index))
	first, _, err := rtpdLs(rtpd, dir, index, filepath.Join(tmp, "rtpd.out"))
	if err != nil {
		panic(err)
	}
	fmt.Printf("first rtpd ls: %v (%.0f files/s)\n", first.Round(time.Millisecond), float64(n)/first.Seconds())
	var again []float64
	for r := range rounds {
		t, got, err := rtpdLs(rtpd, dir, index, filepath.Join(tmp, "rtpd.out"))
		if err != nil {
			panic(err)
		}
		if len(got) != n {
			panic(fmt.Sprintf("second rtpd ls listed %d files, want %d", len(got), n))
		}
		fmt.Printf("round %d: second rtpd ls %v\n", r+1, t.Round(time.Millisecond))
		again = append(again, t.Seconds())
	}
	fmt.Printf("second start of %d files, median: %.3f s\n", n, median(again))
}

// makeFiles writes n pseudo-random files of size bytes, 200 to a folder.
func makeFiles(dir string, n, size int) error {
	rng := rand.NewChaCha8([32]byte{1})
	b := make([]byte, size)
	for i := range n {
		sub := filepath.Join(dir, fmt.Sprintf("%04d", i/200))
		if i%200 == 0 {
			if err := os.MkdirAll(sub, 0o755); err != nil {
				return err
			}
		}
		rng.Read(b)
		if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("%03d", i%200)), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// settle puts every file below dir in the same page cache state: read once,
// or evicted.
func settle(dir string, cold bool) error {
	buf := make([]byte, 64<<10)
	return filepath.WalkDir(dir, func(p string, de os.DirEntry, err error) error {
		if err != nil || !de.Type().IsRegular() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		if cold {
			return unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
		}
		for {
			if _, err := f.Read(buf); err != nil {
				return nil
			}
		}
	})
}

// sha256sum times find | xargs -P2 sha256sum and returns sha256 by path
// relative to dir.
func sha256sum(dir, out string) (time.Duration, map[string]string, error) {
	cmd := exec.Command("sh", "-c", `find . -type f -print0 | xargs -0 -P2 sha256sum > "$1"`, "sh", out)
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, nil, fmt.Errorf("sha256sum: %w", err)
	}
	d := time.Since(start)
	sums, err := readListing(out, func(f []string) (string, string, bool) {
		if len(f) != 2 {
			return "", "", false
		}
		return strings.TrimPrefix(f[1], "./"), f[0], true
	})
	return d, sums, err
}

// rtpdLs times rtpd ls and returns sha256 by path.
func rtpdLs(rtpd, dir, index, out string) (time.Duration, map[string]string, error) {
	f, err := os.Create(out)
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	cmd := exec.Command(rtpd, "ls", "--index", index, dir)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = f, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, nil, fmt.Errorf("rtpd ls: %w\n%s", err, stderr.String())
	}
	d := time.Since(start)
	sums, err := readListing(out, func(f []string) (string, string, bool) {
		if len(f) != 4 || f[0] == "SIZE" {
			return "", "", false
		}
		return f[1], f[3], true
	})
	return d, sums, err
}

func readListing(name string, parse func([]string) (path, sum string, ok bool)) (map[string]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sums := make(map[string]string)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if p, s, ok := parse(strings.Fields(sc.Text())); ok {
			sums[p] = s
		}
	}
	return sums, sc.Err()
}

// same checks that both listings hold the n files with equal sha256s.
func same(want, got map[string]string, n int) error {
	if len(want) != n || len(got) != n {
		return fmt.Errorf("sha256sum listed %d files, rtpd %d, want %d", len(want), len(got), n)
	}
	for p, s := range want {
		if got[p] != s {
			return fmt.Errorf("%s: sha256sum says %s, rtpd %s", p, s, got[p])
		}
	}
	return nil
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}
