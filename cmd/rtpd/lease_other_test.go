//go:build !linux

package main

import "testing"

// File leases are Linux's; elsewhere the tests that need them are skipped.
type lease struct{}

func holdOpens(t *testing.T, path string) *lease {
	t.Skip("needs Linux file leases (fcntl F_SETLEASE)")
	return nil
}

func (l *lease) release() {}

func waitOpened(t *testing.T, exited <-chan struct{}, ls ...*lease) {}
