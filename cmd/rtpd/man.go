//go:build man

package main

import "github.com/rtp-project/rtp/internal/mangen"

// Built with -tags man, rtpd prints its man page and exits (make man).
func init() { mangen.Main(newApp(), manExtra) }
