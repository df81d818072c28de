// Command indexrate measures rtpd's first index pass against hashing the
// same bytes from memory, and the time a second start takes to listen.
//
//	go run ./bench/indexrate                 # 1,000 small files + one 2 GiB file
//	go run ./bench/indexrate -big 256MiB     # quicker
//	go run ./bench/indexrate -trees=false    # only the pass without BLAKE3 trees
//
// Each round times the first start with BLAKE3 trees (the default) and, with
// -trees (the default), also one with --no-trees, alternated, and reports
// what the trees cost on disk: the tree files plus the growth of index.db.
//
// The memory figure hashes every file's bytes, already in memory, with
// urn.HashReader (sha256 and blake3 in one pass) on as many goroutines as
// GOMAXPROCS, largest first: the same work the index pass does, minus the
// file system and the index. Files are freshly written, so the index pass
// reads them from the page cache.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rtp-project/rtp/urn"
)

func main() {
	big := flag.String("big", "2GiB", "size of the big file")
	small := flag.Int("small", 1000, "number of small files")
	rounds := flag.Int("n", 3, "rounds of (memory hash, first start), alternated; medians are reported")
	smallSize := flag.Int("small-size", 64<<10, "largest small file in bytes (sizes vary from 1 byte up)")
	trees := flag.Bool("trees", true, "also time the first start with BLAKE3 trees, against --no-trees")
	flag.Parse()
	bigSize, err := parseSize(*big)
	if err != nil {
		log.Fatal(err)
	}
	tmp, err := os.MkdirTemp("", "indexrate-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	rtpd := filepath.Join(tmp, "rtpd")
	if out, err := exec.Command("go", "build", "-o", rtpd, "./cmd/rtpd").CombinedOutput(); err != nil {
		log.Fatalf("build rtpd: %v\n%s", err, out)
	}
	dir := filepath.Join(tmp, "blobs")
	total, err := makeFiles(dir, *small, *smallSize, bigSize)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("folder: %d small files + one of %d bytes, %d bytes in all; GOMAXPROCS=%d\n", *small, bigSize, total, runtime.GOMAXPROCS(0))

	// The machine is shared and noisy: alternate the two measurements and
	// take medians, so both see the same conditions.
	var mems, idxs, treeIdxs []float64
	var second time.Duration
	var plainDB, treeDB, treeFiles int64
	for r := range *rounds {
		mem, err := memoryRate(dir)
		if err != nil {
			log.Fatal(err)
		}
		first, err := firstStart(rtpd, dir, "--no-trees")
		if err != nil {
			log.Fatal(err)
		}
		plainDB = fileSize(filepath.Join(dir, ".rtpd", "index.db"))
		idx := float64(total) / first.Seconds() / 1e6
		fmt.Printf("round %d: memory %.0f MB/s, first start to listening %v = %.0f MB/s (%.2f x)\n", r+1, mem, first.Round(time.Millisecond), idx, idx/mem)
		mems, idxs = append(mems, mem), append(idxs, idx)
		if *trees {
			first, err := firstStart(rtpd, dir)
			if err != nil {
				log.Fatal(err)
			}
			treeDB, treeFiles = fileSize(filepath.Join(dir, ".rtpd", "index.db")), dirSize(filepath.Join(dir, ".rtpd", "index.db.trees"))
			tidx := float64(total) / first.Seconds() / 1e6
			fmt.Printf("round %d: with trees, first start to listening %v = %.0f MB/s (%.2f x without)\n", r+1, first.Round(time.Millisecond), tidx, tidx/idx)
			treeIdxs = append(treeIdxs, tidx)
		}
		var again []string
		if !*trees {
			again = []string{"--no-trees"}
		}
		if second, err = timeToListen(rtpd, dir, again...); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("round %d: second start to listening %v\n", r+1, second.Round(time.Millisecond))
	}
	mem, idx := median(mems), median(idxs)
	fmt.Printf("memory hash rate (sha256+blake3, %d cores), median: %.0f MB/s\n", runtime.GOMAXPROCS(0), mem)
	fmt.Printf("first start (index pass, no trees), median: %.0f MB/s = %.2f x memory\n", idx, idx/mem)
	if *trees {
		tidx := median(treeIdxs)
		fmt.Printf("first start with trees, median:             %.0f MB/s = %.3f x without\n", tidx, tidx/idx)
		disk := treeFiles + treeDB - plainDB
		fmt.Printf("trees on disk: %d bytes of tree files + %d bytes more index (%d with, %d without) = %.3f%% of %d bytes\n",
			treeFiles, treeDB-plainDB, treeDB, plainDB, 100*float64(disk)/float64(total), total)
	}
	fmt.Printf("second start, to listening (last round):    %v\n", second.Round(time.Millisecond))
}

// firstStart removes the index and times a start that indexes everything.
func firstStart(rtpd, dir string, args ...string) (time.Duration, error) {
	if err := os.RemoveAll(filepath.Join(dir, ".rtpd")); err != nil {
		return 0, err
	}
	return timeToListen(rtpd, dir, args...)
}

func fileSize(p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// dirSize is the disk space the files in p take, in whole blocks.
func dirSize(p string) int64 {
	var n int64
	filepath.Walk(p, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += diskUsage(fi)
		}
		return nil
	})
	return n
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func parseSize(s string) (int64, error) {
	units := []struct {
		suf string
		mul int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suf); ok {
			var n int64
			if _, err := fmt.Sscan(num, &n); err != nil {
				return 0, fmt.Errorf("size %q: %v", s, err)
			}
			return n * u.mul, nil
		}
	}
	return 0, fmt.Errorf("size %q", s)
}

// makeFiles writes pseudo-random files; ChaCha8 is fast enough not to
// dominate.
func makeFiles(dir string, n, maxSmall int, big int64) (int64, error) {
	rng := rand.NewChaCha8([32]byte{1})
	var total int64
	write := func(name string, size int64) error {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			return err
		}
		f, err := os.Create(name)
		if err != nil {
			return err
		}
		if _, err := io.CopyN(f, rng, size); err != nil {
			f.Close()
			return err
		}
		total += size
		return f.Close()
	}
	for i := range n {
		size := 1 + int64(rand.IntN(maxSmall))
		if err := write(filepath.Join(dir, fmt.Sprintf("small/%02d/%04d", i%100, i)), size); err != nil {
			return 0, err
		}
	}
	return total, write(filepath.Join(dir, "big.bin"), big)
}

// memoryRate loads every file and hashes the bytes the way the index pass
// does, without the file system.
func memoryRate(dir string) (float64, error) {
	var bufs [][]byte
	var total int64
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		bufs = append(bufs, b)
		total += int64(len(b))
		return err
	})
	if err != nil {
		return 0, err
	}
	sort.Slice(bufs, func(i, j int) bool { return len(bufs[i]) > len(bufs[j]) })
	jobs := make(chan []byte)
	var wg sync.WaitGroup
	start := time.Now()
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range jobs {
				urn.HashReader(bytes.NewReader(b), nil)
			}
		}()
	}
	for _, b := range bufs {
		jobs <- b
	}
	close(jobs)
	wg.Wait()
	return float64(total) / time.Since(start).Seconds() / 1e6, nil
}

var listening = regexp.MustCompile(`listening on `)

// timeToListen starts rtpd on dir and returns the time until it logs its
// first listener, then stops it.
func timeToListen(rtpd, dir string, args ...string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, rtpd, append(append([]string{"serve", "--listen", "tcp!127.0.0.1!0"}, args...), dir)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return 0, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer cmd.Wait()
	defer cmd.Process.Signal(os.Interrupt)
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if listening.MatchString(sc.Text()) {
			d := time.Since(start)
			go io.Copy(io.Discard, stderr)
			return d, nil
		}
		if strings.Contains(sc.Text(), "index pass done") {
			fmt.Println("  rtpd:", sc.Text())
		}
	}
	return 0, fmt.Errorf("rtpd exited before listening")
}

func diskUsage(fi os.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return fi.Size()
}
