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
			&cli.StringFlag{Name: flagHash, Aliases: []string{flagURLHash}, Value: "blake3", Usage: urlHashUsage, EnvVars: append(envVar(flagHash), envVar(flagURLHash)...)},
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
	kinds, err := parseURLHash(flagHash, c.String(flagHash))
	if err != nil {
		return err
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
			Hashes:  sums.URNs(kinds),
			Length:  sums.N,
			Servers: servers,
			Name:    filepath.Base(name),
		}
		fmt.Println(u.String())
	}
	return nil
}
