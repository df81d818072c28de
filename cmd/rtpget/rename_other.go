//go:build !linux

package main

// renameNew renames from to to, failing with fs.ErrExist if to exists. Here
// the check and the rename are two steps.
func renameNew(from, to string) error { return renameChecked(from, to) }
