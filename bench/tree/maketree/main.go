// Command maketree writes a pseudo-random folder tree for the tree
// benchmark, from a fixed seed, with its collection manifest, an rtp: URL
// for it and an aria2c input file for the same tree over HTTP.
//
//	go run ./bench/tree/maketree -files 10000 -bytes 2000000000 -out /tmp/t
//
// writes /tmp/t/serve/tree/… (the tree), /tmp/t/serve/manifest (its
// manifest, served by rtpd like any file), and prints the URL's query
// without servers (u=…&l=…&t=…&dn=tree). With -aria BASE it also writes
// /tmp/t/aria.txt: one entry a file, dir= and out= each.
//
// Sizes: -big files share half the bytes (between a quarter and twice
// their mean, at most 200 MB each); the others are small, log-uniform
// from 1 B to 1 MiB and scaled so that the tree has -bytes in all.
package main

import (
	"bufio"
	"crypto/sha256"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"lukechampine.com/blake3"

	"github.com/rtp-project/rtp/collection"
	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/urn"
)

func main() {
	files := flag.Int("files", 1000, "files in the tree")
	total := flag.Int64("bytes", 100<<20, "bytes in all (about)")
	big := flag.Int("big", 10, "big files, holding half the bytes")
	seed := flag.Uint64("seed", 1, "random seed")
	out := flag.String("out", "", "folder to write (created)")
	aria := flag.String("aria", "", "HTTP base URL of serve/tree, for an aria2c input file")
	flag.Parse()
	if *out == "" || *big >= *files {
		fmt.Fprintln(os.Stderr, "maketree: want -out, and -big below -files")
		os.Exit(2)
	}
	if err := run(*files, *big, *total, *seed, *out, *aria); err != nil {
		fmt.Fprintln(os.Stderr, "maketree:", err)
		os.Exit(1)
	}
}

func sizes(files, big int, total int64, r *rand.Rand) []int64 {
	s := make([]int64, files)
	bigMean := float64(total) / 2 / float64(big)
	var bigSum int64
	for i := range big {
		s[i] = min(int64(bigMean*(0.25+1.75*r.Float64())), 200e6)
		bigSum += s[i]
	}
	// Small ones: log-uniform in [1, 1 MiB], then scaled to the rest.
	var smallSum float64
	raw := make([]float64, files-big)
	for i := range raw {
		raw[i] = math.Exp(r.Float64() * math.Log(1<<20))
		smallSum += raw[i]
	}
	scale := float64(total-bigSum) / smallSum
	for i := range raw {
		s[big+i] = max(1, int64(raw[i]*scale))
	}
	r.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
	return s
}

func run(files, big int, total int64, seed uint64, out, aria string) error {
	r := rand.New(rand.NewPCG(seed, 2))
	tree := filepath.Join(out, "serve", "tree")
	var es []collection.Entry
	var af *bufio.Writer
	if aria != "" {
		f, err := os.Create(filepath.Join(out, "aria.txt"))
		if err != nil {
			return err
		}
		defer f.Close()
		af = bufio.NewWriter(f)
		defer af.Flush()
	}
	src := rand.NewChaCha8([32]byte{byte(seed), 't', 'r', 'e', 'e'})
	buf := make([]byte, 1<<20)
	for i, n := range sizes(files, big, total, r) {
		p := fmt.Sprintf("d%02d/s%03d/f%05d.bin", i%40, i%400, i)
		full := filepath.Join(tree, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		f, err := os.Create(full)
		if err != nil {
			return err
		}
		b3, sh := blake3.New(32, nil), sha256.New()
		w := bufio.NewWriterSize(f, 1<<20)
		for left := n; left > 0; left -= int64(len(buf)) {
			c := buf[:min(left, int64(len(buf)))]
			src.Read(c)
			w.Write(c)
			b3.Write(c)
			sh.Write(c)
		}
		if err := w.Flush(); err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		e := collection.Entry{Path: p, Size: n}
		b3.Sum(e.BLAKE3[:0])
		sh.Sum(e.SHA256[:0])
		es = append(es, e)
		if af != nil {
			fmt.Fprintf(af, "%s/%s\n  dir=%s\n  out=%s\n", strings.TrimSuffix(aria, "/"), p, filepath.Dir(p), filepath.Base(p))
		}
	}
	m, err := collection.Encode(es)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "serve", "manifest"), m, 0o644); err != nil {
		return err
	}
	u := rtpurl.URL{
		Hashes: []urn.Hash{urn.New(urn.BLAKE3, blake3.Sum256(m)), urn.New(urn.SHA256, sha256.Sum256(m))},
		Length: int64(len(m)), Types: []string{collection.MediaType}, Name: "tree",
	}
	fmt.Println(u.String())
	return nil
}
