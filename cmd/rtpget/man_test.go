package main

import (
	"testing"

	"github.com/rtp-project/rtp/internal/mangen"
)

// TestManPage: the page make man writes is the one rendered from the flag
// definitions, and names every flag and the sections written for it.
func TestManPage(t *testing.T) {
	mangen.Check(t, getApp(), manExtra, ".SH DESCRIPTION", ".SH EXIT STATUS", ".SH EXAMPLES")
}
