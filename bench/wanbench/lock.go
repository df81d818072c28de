package main

import (
	"fmt"
	"os"
	"strings"
	"syscall"
)

// lockPath is held (flock) by the wanbench that owns the namespaces; the
// kernel releases it when that process ends, however it ends.
const lockPath = "/run/wanbench.lock"

// lock takes lockPath, or says which process holds it.
func lock() (*os.File, error) {
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		pid, _ := os.ReadFile(lockPath)
		f.Close()
		return nil, fmt.Errorf("another wanbench (pid %s) is running: wait for it or stop it", strings.TrimSpace(string(pid)))
	}
	f.Truncate(0)
	fmt.Fprintf(f, "%d\n", os.Getpid())
	return f, nil
}
