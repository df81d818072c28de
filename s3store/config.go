package s3store

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Location is what s3://BUCKET/PREFIX names.
type Location struct {
	Bucket string
	// Prefix is "" for the whole bucket, else a "folder": it ends with "/".
	Prefix string
}

// String returns the URL: s3://BUCKET/PREFIX.
func (l Location) String() string { return "s3://" + l.Bucket + "/" + l.Prefix }

// ParseURL reads s3://BUCKET[/PREFIX]. The prefix is a folder: s3://b/x
// serves the keys under x/, not a key named x2; s3://b and s3://b/ serve
// the whole bucket.
func ParseURL(s string) (Location, error) {
	rest, ok := strings.CutPrefix(s, "s3://")
	if !ok {
		if len(s) >= 5 && strings.EqualFold(s[:5], "s3://") {
			rest = s[5:]
		} else {
			return Location{}, fmt.Errorf("%q: want s3://BUCKET/PREFIX", s)
		}
	}
	bucket, prefix, _ := strings.Cut(rest, "/")
	if bucket == "" {
		return Location{}, fmt.Errorf("%q: no bucket: want s3://BUCKET/PREFIX", s)
	}
	if err := checkBucketName(bucket); err != nil {
		return Location{}, fmt.Errorf("%q: %v", s, err)
	}
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return Location{Bucket: bucket, Prefix: prefix}, nil
}

// checkBucketName applies S3's rules loosely (3 to 63 characters of
// lower-case letters, digits, dots and hyphens; some S3-compatible servers
// allow upper case and underscores, so those pass too).
func checkBucketName(b string) error {
	if len(b) < 3 || len(b) > 63 {
		return fmt.Errorf("bucket name %q: want 3 to 63 characters", b)
	}
	for _, r := range b {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_'
		if !ok {
			return fmt.Errorf("bucket name %q: %q is not allowed", b, r)
		}
	}
	return nil
}

// Path styles of Config.PathStyle.
const (
	StyleAuto    = "auto"    // virtual-hosted for AWS and Google, path for any other endpoint
	StylePath    = "path"    // https://ENDPOINT/BUCKET/KEY
	StyleVirtual = "virtual" // https://BUCKET.ENDPOINT/KEY
)

// Config says how to reach the bucket. Secrets in it are never logged.
type Config struct {
	// Endpoint is the S3 server's URL, e.g. http://127.0.0.1:7070 or
	// https://s3.eu-central-1.amazonaws.com. Zero means
	// AWS_ENDPOINT_URL_S3, then AWS_ENDPOINT_URL, then AWS
	// (https://s3.amazonaws.com). A bare host:port means https.
	Endpoint string
	// Region is the bucket's region. Zero means AWS_REGION, then
	// AWS_DEFAULT_REGION, then what the server says (us-east-1 for most
	// S3-compatible servers).
	Region string
	// PathStyle is StyleAuto, StylePath or StyleVirtual. Zero means auto.
	PathStyle string
	// AccessKeyID and SecretAccessKey (and SessionToken, for temporary
	// credentials) sign the requests. When AccessKeyID is zero, the
	// credentials are looked for as the AWS tools do: the environment
	// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), the
	// profile Profile (zero means AWS_PROFILE, then "default") of the
	// shared credentials file (AWS_SHARED_CREDENTIALS_FILE, zero means
	// ~/.aws/credentials), then the instance's or container's role; with
	// none of those, requests are anonymous (a public bucket).
	AccessKeyID, SecretAccessKey, SessionToken string
	Profile                                    string

	// Parallel is how many ranged GETs the store has in flight at once, for
	// all READs together; read-ahead only uses a free one. Zero means 16.
	Parallel int
	// ChunkSize is the size of a ranged GET. Zero means 16 MiB, the upper
	// of the two sizes AWS's performance guidelines suggest for byte-range
	// fetches: against 4 MiB, a quarter of the requests, half the S3
	// server's CPU (versitygw) and 8% more throughput (bench/s3get), for a
	// longer wait before a READ's first byte when its chunk is not cached
	// (a 16 MiB GET). It is rounded up to a multiple of 16 KiB (a BLAKE3
	// tree group).
	ChunkSize int64
	// ReadAhead is how many chunks past a READ are fetched when a blob is
	// read in order. Zero means 3; negative means none.
	ReadAhead int
	// CacheBytes bounds the chunks kept in memory (fetched, or read ahead),
	// shared by every READ. Zero means 256 MiB.
	CacheBytes int64
	// Timeout bounds one request: the time to its first byte, and to read
	// a chunk. Zero means 30 s.
	Timeout time.Duration
	// transport, when set (by tests), replaces the HTTP transport.
	transport http.RoundTripper
}

func (c *Config) setDefaults() error {
	if c.Endpoint == "" {
		c.Endpoint = firstEnv("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
	}
	if c.Endpoint == "" {
		c.Endpoint = "https://s3.amazonaws.com"
	}
	if c.Region == "" {
		c.Region = firstEnv("AWS_REGION", "AWS_DEFAULT_REGION")
	}
	switch c.PathStyle {
	case "":
		c.PathStyle = StyleAuto
	case StyleAuto, StylePath, StyleVirtual:
	default:
		return fmt.Errorf("path style %q: want auto, path or virtual", c.PathStyle)
	}
	if c.Parallel <= 0 {
		c.Parallel = 16
	}
	if c.ChunkSize <= 0 {
		c.ChunkSize = 16 << 20
	}
	const group = 16 << 10
	c.ChunkSize = (c.ChunkSize + group - 1) / group * group
	if c.ReadAhead == 0 {
		c.ReadAhead = 3
	}
	if c.ReadAhead < 0 {
		c.ReadAhead = 0
	}
	if c.CacheBytes <= 0 {
		c.CacheBytes = 256 << 20
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	return nil
}

// DefaultIndex is where the index of loc, reached at endpoint, is kept
// when none is given: $XDG_CACHE_HOME/rtpd/s3-BUCKET-HASH/index.db
// (~/.cache on Linux), HASH naming endpoint, bucket and prefix, so that
// two origins of different buckets or prefixes never share one.
func DefaultIndex(endpoint string, loc Location) (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache folder for the index (%v): give one with --index", err)
	}
	sum := sha256.Sum256([]byte(endpoint + "\x00" + loc.Bucket + "\x00" + loc.Prefix))
	return filepath.Join(dir, "rtpd", "s3-"+loc.Bucket+"-"+hex.EncodeToString(sum[:6]), "index.db"), nil
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// endpointURL splits the endpoint into what minio.New wants.
func endpointURL(s string) (host string, secure bool, err error) {
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", false, fmt.Errorf("endpoint %q: %v", s, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", false, fmt.Errorf("endpoint %q: want http:// or https://", s)
	case u.Host == "":
		return "", false, fmt.Errorf("endpoint %q: no host", s)
	case u.Path != "" && u.Path != "/":
		return "", false, fmt.Errorf("endpoint %q: no path allowed (give the bucket in the s3:// URL)", s)
	}
	return u.Host, u.Scheme == "https", nil
}

// findCredentials returns the credentials of c, looked for once, in the
// order Config.AccessKeyID says, and where they came from (for the log,
// without a secret). Providers whose credentials expire (a role's) are
// kept, so that they are renewed.
func findCredentials(c *Config) (*credentials.Credentials, string) {
	if c.AccessKeyID != "" {
		return credentials.NewStaticV4(c.AccessKeyID, c.SecretAccessKey, c.SessionToken), "flags"
	}
	for _, p := range []struct {
		name string
		p    credentials.Provider
	}{
		{"the environment", &credentials.EnvAWS{}},
		{"the shared credentials file", &credentials.FileAWSCredentials{Profile: c.Profile}},
		// The instance's or container's role: one request to a link-local
		// address, which fails fast off the cloud.
		{"the instance's role", &credentials.IAM{Client: &http.Client{Transport: http.DefaultTransport, Timeout: 2 * time.Second}}},
	} {
		if v, err := p.p.Retrieve(); err == nil && v.AccessKeyID != "" {
			return credentials.New(p.p), p.name
		}
	}
	return credentials.NewStatic("", "", "", credentials.SignatureAnonymous), "none (anonymous requests)"
}

// newClient makes the S3 client of c.
func newClient(c *Config) (mc *minio.Core, credsFrom string, err error) {
	host, secure, err := endpointURL(c.Endpoint)
	if err != nil {
		return nil, "", err
	}
	creds, credsFrom := findCredentials(c)
	lookup := minio.BucketLookupAuto
	switch c.PathStyle {
	case StylePath:
		lookup = minio.BucketLookupPath
	case StyleVirtual:
		lookup = minio.BucketLookupDNS
	}
	tr := c.transport
	if tr == nil {
		t, err := minio.DefaultTransport(secure)
		if err != nil {
			return nil, "", err
		}
		t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
		t.ResponseHeaderTimeout = c.Timeout
		t.MaxIdleConnsPerHost = c.Parallel + 8
		t.DisableCompression = true
		tr = t
	}
	mc, err = minio.NewCore(host, &minio.Options{
		Creds:        creds,
		Secure:       secure,
		Region:       c.Region,
		BucketLookup: lookup,
		Transport:    tr,
		// The store retries nothing itself: a READ's failure goes back to
		// the client, which retries (another server, or this one later).
		// Two more tries of the client's own cover a dropped connection.
		MaxRetries: 3,
	})
	return mc, credsFrom, err
}
