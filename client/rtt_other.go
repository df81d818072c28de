//go:build !linux

package client

import (
	"net"
	"time"
)

func tcpMinRTT(*net.TCPConn) time.Duration { return 0 }
