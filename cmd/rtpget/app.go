package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/rtp-project/rtp/client"
	"github.com/rtp-project/rtp/rtpurl"
)

const (
	flagOutput   = "output"
	flagDir      = "dir"
	flagQuiet    = "quiet"
	flagInsecure = "insecure"
	flagCA       = "ca"
)

func envVar(flag string) []string {
	return []string{"RTPGET_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))}
}

func usageError(_ *cli.Context, err error, _ bool) error { return cli.Exit(err.Error(), 2) }

func getApp() *cli.App {
	return &cli.App{
		Name:         "rtpget",
		Usage:        "download a file by hash from the servers an rtp: URL lists, verified",
		ArgsUsage:    "'rtp:?u=urn:sha256:…&l=…&s=tcp!host!7777'",
		OnUsageError: usageError,
		// main prints errors and exits; the default handler would exit first.
		ExitErrHandler: func(*cli.Context, error) {},
		Flags: []cli.Flag{
			&cli.StringFlag{Name: flagOutput, Aliases: []string{"o"}, Usage: "output file, - for stdout (default: the URL's dn, else the hash)", EnvVars: envVar(flagOutput)},
			&cli.StringFlag{Name: flagDir, Aliases: []string{"C"}, Usage: "folder to write into", EnvVars: envVar(flagDir)},
			&cli.BoolFlag{Name: flagQuiet, Aliases: []string{"q"}, Usage: "print nothing but errors", EnvVars: envVar(flagQuiet)},
			&cli.BoolFlag{Name: flagInsecure, Aliases: []string{"k"}, Usage: "do not verify TLS certificates (the content is still verified by hash)", EnvVars: envVar(flagInsecure)},
			&cli.StringFlag{Name: flagCA, Usage: "PEM file of CA certificates to trust for TLS and QUIC instead of the system roots", EnvVars: envVar(flagCA)},
		},
		Action: get,
	}
}

func get(c *cli.Context) error {
	if c.NArg() != 1 {
		return cli.Exit("want one rtp: URL", 2)
	}
	u, err := rtpurl.Parse(c.Args().First())
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	opts, err := clientOptions(c)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	for _, s := range u.Skipped {
		log.Warn("skipping a server with an unknown protocol", "s", s)
	}
	name, err := outputName(c, u)
	if err != nil {
		return err
	}
	d := &download{url: u, opts: opts, log: log, quiet: c.Bool(flagQuiet)}
	if name == "-" {
		err = d.toStdout(c.Context)
	} else {
		err = d.toFile(c.Context, name)
	}
	if err != nil {
		return cli.Exit(err.Error(), 1)
	}
	return nil
}

func clientOptions(c *cli.Context) (*client.Options, error) {
	conf := &tls.Config{InsecureSkipVerify: c.Bool(flagInsecure)}
	if ca := c.String(flagCA); ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, cli.Exit(fmt.Sprintf("--%s: %v", flagCA, err), 2)
		}
		conf.RootCAs = x509.NewCertPool()
		if !conf.RootCAs.AppendCertsFromPEM(pem) {
			return nil, cli.Exit(fmt.Sprintf("--%s: no certificates in %s", flagCA, ca), 2)
		}
	}
	return &client.Options{TLS: conf}, nil
}

// outputName picks -o, else the URL's dn (its base name only), else the hex
// of the first hash, inside -C.
func outputName(c *cli.Context, u *rtpurl.URL) (string, error) {
	name := c.String(flagOutput)
	if name == "-" {
		return name, nil
	}
	if name == "" {
		name = filepath.Base(filepath.Clean("/" + u.Name))
		if name == "/" || name == "." {
			name = u.Hashes[0].Hex()
		}
	}
	if dir := c.String(flagDir); dir != "" {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return "", cli.Exit(fmt.Sprintf("-C %s: not a folder", dir), 2)
		}
		name = filepath.Join(dir, name)
	}
	if fi, err := os.Stat(name); err == nil && fi.IsDir() {
		return "", cli.Exit(fmt.Sprintf("%s is a folder", name), 2)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", cli.Exit(err.Error(), 2)
	}
	return name, nil
}
