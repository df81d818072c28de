package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/rtp-project/rtp/rtpurl"
	"github.com/rtp-project/rtp/urn"
)

func urlCommand() *cli.Command {
	return &cli.Command{
		Name:         "url",
		Usage:        "print the rtp: URL of each file, or with --tree one URL for a whole folder tree",
		ArgsUsage:    "FILE... | --tree DIR",
		OnUsageError: usageError,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: flagHash, Value: "both", Usage: "which urns to list: both (blake3 first), blake3 or sha256; rtpget checks the blake3 urn (against its tree as bytes arrive), and every urn with --verify all", EnvVars: envVar(flagHash)},
			&cli.StringSliceFlag{Name: flagServer, Usage: "dial string of a server that holds the files, repeatable (default tcp!HOSTNAME!7777)", EnvVars: envVar(flagServer)},
			&cli.BoolFlag{Name: flagTree, Usage: "print one URL for the folder DIR and every file under it: its manifest is written into the index folder of the rtpd serving DIR (the nearest .rtpd folder above, or --index), which serves it", EnvVars: envVar(flagTree)},
			&cli.StringFlag{Name: flagIndex, Usage: "with --tree: the bbolt index file of the rtpd serving DIR, whose folder gets the manifest (default: the nearest DIR/.rtpd/index.db upward)", EnvVars: envVar(flagIndex)},
			&cli.BoolFlag{Name: flagHidden, Usage: "with --tree: also list dot-files, partial downloads and editor backups, for an rtpd serving with --hidden", EnvVars: envVar(flagHidden)},
		},
		Action: printURLs,
	}
}

func printURLs(c *cli.Context) error {
	if c.NArg() == 0 {
		return cli.Exit("url: want one or more files", 2)
	}
	var kinds []urn.Kind
	switch c.String(flagHash) {
	case "both":
		kinds = []urn.Kind{urn.BLAKE3, urn.SHA256}
	case "blake3":
		kinds = []urn.Kind{urn.BLAKE3}
	case "sha256":
		kinds = []urn.Kind{urn.SHA256}
	default:
		return cli.Exit(fmt.Sprintf("--%s %q: want both, blake3 or sha256", flagHash, c.String(flagHash)), 2)
	}
	servers, err := parseDials(flagServer, c.StringSlice(flagServer))
	if err != nil {
		return err
	}
	if len(servers) == 0 {
		host, err := os.Hostname()
		if err != nil {
			host = "localhost"
		}
		servers = []rtpurl.Dial{{Proto: rtpurl.TCP, Host: host, Port: rtpurl.DefaultPort}}
	}
	if c.Bool(flagTree) {
		return printTreeURL(c, kinds, servers)
	}
	for _, name := range c.Args().Slice() {
		f, err := os.Open(name)
		if err != nil {
			return cli.Exit(err.Error(), 1)
		}
		sums, err := urn.HashReader(f, nil, kinds...)
		f.Close()
		if err != nil {
			return cli.Exit(fmt.Sprintf("%s: %v", name, err), 1)
		}
		u := rtpurl.URL{
			Hashes:  hashes(sums, kinds),
			Length:  sums.N,
			Servers: servers,
			Name:    filepath.Base(name),
		}
		fmt.Println(u.String())
	}
	return nil
}

func hashes(s urn.Sums, kinds []urn.Kind) []urn.Hash {
	var hs []urn.Hash
	for _, k := range kinds {
		hs = append(hs, urn.New(k, s.Of(k)))
	}
	return hs
}
