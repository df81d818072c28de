package main

import (
	"testing"

	"github.com/rtp-project/rtp/internal/mangen"
)

// TestManPage: the page make man writes is the one rendered from the
// command and flag definitions, and names every command and flag.
func TestManPage(t *testing.T) { mangen.Check(t, newApp(), manExtra) }
