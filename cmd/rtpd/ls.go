package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/rtp-project/rtp/store"
	"github.com/rtp-project/rtp/urn"
)

func lsCommand() *cli.Command {
	return &cli.Command{
		Name:         "ls",
		Usage:        "bring a folder's index up to date and list what it serves",
		ArgsUsage:    "DIR",
		OnUsageError: usageError,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: flagIndex, Usage: "bbolt index file (default DIR/.rtpd/index.db)", EnvVars: envVar(flagIndex)},
			logLevelFlag(),
		},
		Action: list,
	}
}

func list(c *cli.Context) error {
	if c.NArg() != 1 {
		return cli.Exit("ls: want one folder", 2)
	}
	log, err := newLogger(c)
	if err != nil {
		return err
	}
	disk, err := store.OpenDisk(c.Args().First(), store.Options{Index: c.String(flagIndex), Logger: log, Progress: progressPrinter()})
	if errors.Is(err, store.ErrLocked) {
		return cli.Exit(fmt.Sprintf("%v: a running rtpd serves this folder; stop it, or ask it with rtpget", err), 1)
	}
	if err != nil {
		return cli.Exit(err.Error(), 1)
	}
	defer disk.Close()
	if _, err := disk.Scan(c.Context); err != nil {
		return cli.Exit(err.Error(), 1)
	}
	out := bufio.NewWriterSize(os.Stdout, 64<<10) // tabwriter writes cell by cell
	w := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "SIZE\tPATH\tBLAKE3\tSHA256")
	err = disk.List(c.Context, func(e store.Entry) error {
		_, err := fmt.Fprintf(w, "%d\t%s\t%s\t%s\n", e.Size, e.Path, urn.New(urn.BLAKE3, e.BLAKE3).Hex(), urn.New(urn.SHA256, e.SHA256).Hex())
		return err
	})
	if err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return out.Flush()
}
