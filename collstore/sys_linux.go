//go:build linux

package collstore

import (
	"fmt"
	"io/fs"
	"syscall"
)

func sysID(fi fs.FileInfo) string {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fmt.Sprintf("%d:%d:%d", st.Dev, st.Ino, st.Ctim.Nano())
	}
	return ""
}
