//go:build !linux

package server

import (
	"errors"
	"net"

	"github.com/rtp-project/rtp/store"
)

func sendFile(*net.TCPConn, store.FileBlob, int64, int64) error {
	return errors.New("sendfile: not on this system")
}

const canSendFile = false
