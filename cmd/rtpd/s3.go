package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/rtp-project/rtp/s3store"
)

// Flags of an s3://BUCKET/PREFIX backend, for serve and ls.
const (
	flagS3Endpoint   = "s3-endpoint"
	flagS3Region     = "s3-region"
	flagS3PathStyle  = "s3-path-style"
	flagS3Profile    = "s3-profile"
	flagS3AccessKey  = "s3-access-key-id"
	flagS3SecretFile = "s3-secret-access-key-file"
	flagS3Parallel   = "s3-parallel"
)

var s3FlagNames = []string{flagS3Endpoint, flagS3Region, flagS3PathStyle, flagS3Profile, flagS3AccessKey, flagS3SecretFile, flagS3Parallel}

// s3Flags are the flags of an s3:// backend. Credentials come from the AWS
// environment and files unless --s3-access-key-id is given; the secret is
// read from a file, never from the command line (which ps shows).
func s3Flags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: flagS3Endpoint, Usage: "S3 server for an s3:// backend, e.g. http://127.0.0.1:7070 (default: AWS_ENDPOINT_URL_S3, then AWS_ENDPOINT_URL, then AWS)", EnvVars: envVar(flagS3Endpoint)},
		&cli.StringFlag{Name: flagS3Region, Usage: "the bucket's region (default: AWS_REGION, then AWS_DEFAULT_REGION, then what the server says)", EnvVars: envVar(flagS3Region)},
		&cli.StringFlag{Name: flagS3PathStyle, Value: s3store.StyleAuto, Usage: "bucket addressing: path (ENDPOINT/BUCKET/KEY), virtual (BUCKET.ENDPOINT/KEY) or auto (virtual for AWS and Google, path for other servers)", EnvVars: envVar(flagS3PathStyle)},
		&cli.StringFlag{Name: flagS3Profile, Usage: "profile of the shared AWS credentials file (default: AWS_PROFILE, then default)", EnvVars: envVar(flagS3Profile)},
		&cli.StringFlag{Name: flagS3AccessKey, Usage: "access key ID; its secret is read from --s3-secret-access-key-file (default: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, then the credentials file, then the instance's role)", EnvVars: envVar(flagS3AccessKey)},
		&cli.StringFlag{Name: flagS3SecretFile, Usage: "file holding the secret access key of --s3-access-key-id", EnvVars: envVar(flagS3SecretFile)},
		&cli.IntFlag{Name: flagS3Parallel, Value: 16, Usage: "ranged GETs in flight to the bucket at once, for all READs (a client reading in order gets 3 chunks of 16 MiB read ahead)", EnvVars: envVar(flagS3Parallel)},
	}
}

// s3Config reads the s3 flags. Nothing secret goes into an error.
func s3Config(c *cli.Context) (s3store.Config, error) {
	cfg := s3store.Config{
		Endpoint:    c.String(flagS3Endpoint),
		Region:      c.String(flagS3Region),
		PathStyle:   c.String(flagS3PathStyle),
		Profile:     c.String(flagS3Profile),
		AccessKeyID: c.String(flagS3AccessKey),
		Parallel:    c.Int(flagS3Parallel),
	}
	switch cfg.PathStyle {
	case s3store.StyleAuto, s3store.StylePath, s3store.StyleVirtual:
	default:
		return cfg, cli.Exit(fmt.Sprintf("--%s %q: want auto, path or virtual", flagS3PathStyle, cfg.PathStyle), 2)
	}
	if cfg.Parallel <= 0 {
		return cfg, cli.Exit(fmt.Sprintf("--%s must be positive", flagS3Parallel), 2)
	}
	secretFile := c.String(flagS3SecretFile)
	switch {
	case cfg.AccessKeyID != "" && secretFile == "":
		return cfg, cli.Exit(fmt.Sprintf("--%s needs --%s (the secret is never taken from the command line)", flagS3AccessKey, flagS3SecretFile), 2)
	case cfg.AccessKeyID == "" && secretFile != "":
		return cfg, cli.Exit(fmt.Sprintf("--%s needs --%s", flagS3SecretFile, flagS3AccessKey), 2)
	case secretFile != "":
		b, err := os.ReadFile(secretFile)
		if err != nil {
			return cfg, cli.Exit(fmt.Sprintf("--%s: %v", flagS3SecretFile, err), 1)
		}
		cfg.SecretAccessKey = strings.TrimSpace(string(b))
		if cfg.SecretAccessKey == "" {
			return cfg, cli.Exit(fmt.Sprintf("--%s: %s is empty", flagS3SecretFile, secretFile), 2)
		}
	}
	return cfg, nil
}

// s3FlagSet returns the name of an s3 flag set on the command line, or ""
// (a folder backend with one is a usage error).
func s3FlagSet(c *cli.Context) string {
	for _, f := range s3FlagNames {
		if c.IsSet(f) {
			return f
		}
	}
	return ""
}
