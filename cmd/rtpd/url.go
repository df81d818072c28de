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
		Usage:        "print the rtp: URL of each file",
		ArgsUsage:    "FILE...",
		OnUsageError: usageError,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: flagServer, Usage: "dial string of a server that holds the files, repeatable (default tcp!HOSTNAME!7777)", EnvVars: envVar(flagServer)},
		},
		Action: printURLs,
	}
}

func printURLs(c *cli.Context) error {
	if c.NArg() == 0 {
		return cli.Exit("url: want one or more files", 2)
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
	for _, name := range c.Args().Slice() {
		f, err := os.Open(name)
		if err != nil {
			return cli.Exit(err.Error(), 1)
		}
		sums, err := urn.HashReader(f, nil)
		f.Close()
		if err != nil {
			return cli.Exit(fmt.Sprintf("%s: %v", name, err), 1)
		}
		u := rtpurl.URL{
			Hashes:  sums.Hashes(),
			Length:  sums.N,
			Servers: servers,
			Name:    filepath.Base(name),
		}
		fmt.Println(u.String())
	}
	return nil
}
