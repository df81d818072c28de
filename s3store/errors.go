package s3store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"

	"github.com/minio/minio-go/v7"

	"github.com/rtp-project/rtp/store"
)

var (
	// ErrNoBucket means the bucket does not exist, or these credentials
	// may not see it.
	ErrNoBucket = errors.New("s3store: no such bucket")
	// ErrWrongIndex means the index file was built for another bucket or
	// prefix.
	ErrWrongIndex = errors.New("s3store: the index is of another bucket or prefix")
)

// classify gives an error of the S3 client the kind a caller acts on
// (store.Permanent, store.Retryable), naming what was asked:
//
//   - no such key: fs.ErrNotExist;
//   - a failed If-Match (412): store.ErrChanged, the object was replaced;
//   - a network error, a timeout, a 5xx, throttling (429, SlowDown):
//     store.ErrUnavailable;
//   - anything else (access denied, a bad signature) stays as it is: it
//     will not mend by itself.
//
// A cancelled context stays a cancelled context.
func classify(what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %w", what, err)
	}
	var resp minio.ErrorResponse
	if !errors.As(err, &resp) || resp.StatusCode == 0 {
		// No answer from the server: it is down, unreachable or slow.
		return fmt.Errorf("%s: %w", what, store.Unavailable(err))
	}
	switch {
	case resp.Code == "NoSuchKey" || (resp.StatusCode == http.StatusNotFound && resp.Code != "NoSuchBucket"):
		return fmt.Errorf("%s: %w", what, fs.ErrNotExist)
	case resp.Code == "NoSuchBucket":
		return fmt.Errorf("%s: %w: %w", what, ErrNoBucket, fs.ErrNotExist)
	case resp.StatusCode == http.StatusPreconditionFailed || resp.Code == "PreconditionFailed":
		return fmt.Errorf("%s: %w", what, store.ErrChanged)
	case resp.StatusCode >= 500, resp.StatusCode == http.StatusTooManyRequests,
		resp.StatusCode == http.StatusRequestTimeout, resp.Code == "SlowDown", resp.Code == "RequestTimeout":
		return fmt.Errorf("%s: %w", what, store.Unavailable(err))
	}
	return fmt.Errorf("%s: %w", what, err)
}
