package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/rtp-project/rtp/store"
)

func lsCommand() *cli.Command {
	return &cli.Command{
		Name:         "ls",
		Usage:        "bring a folder's index up to date and list what it serves",
		ArgsUsage:    "DIR | s3://BUCKET/PREFIX",
		OnUsageError: usageError,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: flagIndex, Usage: "bbolt index file (default DIR/.rtpd/index.db)", EnvVars: envVar(flagIndex)},
			hiddenFlag(),
			logLevelFlag(),
		}, s3Flags()...),
		Action: list,
	}
}

func list(c *cli.Context) error {
	if c.NArg() != 1 {
		return cli.Exit("ls: want one folder", 2)
	}
	arg, err := parseBackend("ls", c.Args().First())
	if err != nil {
		return err
	}
	log, err := newLogger(c)
	if err != nil {
		return err
	}
	backend, err := openBackend(c, arg, store.Options{Index: c.String(flagIndex), Hidden: c.Bool(flagHidden), Logger: log, Progress: progressPrinter()})
	if errors.Is(err, store.ErrLocked) {
		return cli.Exit(fmt.Sprintf("%v: a running rtpd serves this folder; stop it, or ask it with rtpget", err), 1)
	}
	var usage cli.ExitCoder
	if errors.As(err, &usage) {
		return err
	}
	if err != nil {
		return cli.Exit(err.Error(), 1)
	}
	defer backend.Close()
	if _, err := backend.Scan(c.Context); err != nil {
		return cli.Exit(err.Error(), 1)
	}
	return writeListing(c.Context, os.Stdout, backend)
}
