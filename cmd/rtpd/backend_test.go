package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rtp-project/rtp/internal/rtpdtest"
)

func TestParseBackend(t *testing.T) {
	cases := []struct {
		arg    string
		dir    string // the folder, for a good row
		s3     string // or the bucket's URL, for a good row
		reason string // in the error, for a bad row
	}{
		{arg: "./blobs", dir: "./blobs"},
		{arg: "/srv/blobs", dir: "/srv/blobs"},
		{arg: "blobs", dir: "blobs"},
		{arg: "s3:bucket", dir: "s3:bucket"}, // no "//": a folder name
		{arg: "./s3://bucket/prefix", dir: "./s3://bucket/prefix"},
		{arg: "C://data", dir: "C://data"}, // a drive letter, not a scheme
		{arg: "s3://bucket/prefix", s3: "s3://bucket/prefix/"},
		{arg: "s3://bucket/a/b/", s3: "s3://bucket/a/b/"},
		{arg: "S3://bucket", s3: "s3://bucket/"},
		{arg: "s3://bucket/", s3: "s3://bucket/"},
		{arg: "s3://", reason: "no bucket"},
		{arg: "s3://b/x", reason: "bucket name"},
		{arg: "s3://bu cket/x", reason: "bucket name"},
		{arg: "https://example.org/blobs", reason: "backend https:// not supported yet"},
		{arg: "file:///srv/blobs", reason: "backend file:// not supported yet"},
		{arg: "gs+x.y-z://b", reason: "backend gs+x.y-z:// not supported yet"},
	}
	for _, c := range cases {
		b, err := parseBackend("serve", c.arg)
		if c.reason == "" {
			got := ""
			if b.s3 != nil {
				got = b.s3.String()
			}
			if err != nil || b.dir != c.dir || got != c.s3 {
				t.Errorf("parseBackend(%q) = %+v (%s), %v; want folder %q, bucket %q", c.arg, b, got, err, c.dir, c.s3)
			}
			continue
		}
		var ec cli.ExitCoder
		if !errors.As(err, &ec) || ec.ExitCode() != 2 {
			t.Errorf("parseBackend(%q) = %+v, %v; want a usage error (exit 2)", c.arg, b, err)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "serve: ") || !strings.Contains(msg, c.reason) || strings.Contains(msg, "\n") {
			t.Errorf("parseBackend(%q): %q; want one line saying %q", c.arg, msg, c.reason)
		}
	}
}

// serve and ls given a URL exit 2 with one line naming its scheme, before
// they open anything, rather than look for a folder named "s3:"; the way
// round the message gives, ./NAME, reaches a folder of that name.
func TestBackendURLExits2(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--listen", "tcp!127.0.0.1!0", "gs://bucket/prefix"},
		{"serve", "https://example.org/blobs"},
		{"ls", "gs://bucket"},
	} {
		_, stderr, code := rtpdtest.Run(t, rtpdtest.RTPD, args...)
		scheme := args[len(args)-1][:strings.Index(args[len(args)-1], "://")+3]
		if code != 2 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 ||
			!strings.HasPrefix(stderr, "rtpd: "+args[0]+": backend "+scheme+" not supported yet") {
			t.Errorf("rtpd %v: exit %d, stderr %q; want 2 and one line naming %s", args, code, stderr, scheme)
		}
	}
	// An s3:// URL without a bucket, and bad s3 flags, are usage errors
	// too.
	for _, args := range [][]string{
		{"serve", "--listen", "tcp!127.0.0.1!0", "s3://"},
		{"ls", "--s3-path-style", "sideways", "s3://bucket"},
		{"ls", "--s3-access-key-id", "AKIDEXAMPLE", "s3://bucket"},
	} {
		_, stderr, code := rtpdtest.Run(t, rtpdtest.RTPD, args...)
		if code != 2 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("rtpd %v: exit %d, stderr %q; want 2 and one line", args, code, stderr)
		}
	}

	work := t.TempDir()
	if err := os.MkdirAll(filepath.Join(work, "s3:", "bucket"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "s3:", "bucket", "f"), []byte("in a folder named s3:"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, rtpdtest.RTPD, "ls", "./s3://bucket")
	cmd.Dir = work
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("rtpd ls ./s3://bucket: %v: %s", err, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(strings.Join(strings.Fields(lines[1]), " "), "21 f ") {
		t.Errorf("rtpd ls ./s3://bucket listed:\n%s", out.String())
	}
}
