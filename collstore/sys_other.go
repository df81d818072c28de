//go:build !unix

package collstore

import "io/fs"

func sysID(fs.FileInfo) string { return "" }
