//go:build !linux

package store

import "os"

// beneath is a faster way to open files below a folder than os.Root, where
// there is one (see open_linux.go).
type beneath struct{}

func openBeneath(string) *beneath { return nil }

func (b *beneath) open(string) (*os.File, bool) { return nil, false }

func (b *beneath) close() {}

func (b *beneath) readSmall(string, int64, *[]byte) ([]byte, fileStat, bool, error) {
	return nil, fileStat{}, false, nil
}
