// Command rtpget downloads a file named by an rtp: URL and verifies it.
package main

import (
	"os"

	"github.com/rtp-project/rtp/internal/cliutil"
)

// main exits 0, 1 (failed, .part kept), 2 (bad usage), or 130 and 143 on
// SIGINT and SIGTERM once the .part is saved for resuming.
func main() {
	app := getApp()
	if complete(app, os.Args[1:], os.Stdout) {
		return
	}
	cliutil.Run("rtpget", app, os.Args)
}
