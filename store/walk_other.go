//go:build !linux

package store

func lstatAll(path string, ss []*statted) { lstatEach(path, ss) }
