package main

import (
	"os"
	"testing"

	"github.com/rtp-project/rtp/internal/rtpdtest"
)

func TestMain(m *testing.M) { os.Exit(rtpdtest.Main(m)) }
