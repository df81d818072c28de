package wan

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"

	"golang.org/x/sys/unix"
)

// Usable reports why this process cannot make links, or nil when it can:
// they need root (network namespaces, TUN devices), /dev/net/tun and ip(8).
func Usable() error {
	if os.Geteuid() != 0 {
		return errors.New("needs root for network namespaces and TUN devices")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		return fmt.Errorf("needs /dev/net/tun: %w", err)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return errors.New("needs ip(8) from iproute2")
	}
	return nil
}

// NewNamespace makes a network namespace named prefix and 8 random hex
// digits, with its loopback up, and returns its name. Remove it with
// DeleteNamespace.
func NewNamespace(prefix string) (string, error) {
	var b [4]byte
	rand.Read(b[:])
	name := prefix + hex.EncodeToString(b[:])
	if err := ip("netns", "add", name); err != nil {
		return "", err
	}
	if err := ip("-n", name, "link", "set", "dev", "lo", "up"); err != nil {
		DeleteNamespace(name)
		return "", err
	}
	return name, nil
}

// DeleteNamespace removes a network namespace made by NewNamespace. The
// kernel frees it once no process or socket uses it any more.
func DeleteNamespace(name string) error {
	return ip("netns", "del", name)
}

// InNamespace runs fn on an OS thread that has entered network namespace
// name, and returns its error. Sockets fn opens (net.Listen, net.Dial,
// net.ListenPacket) belong to that namespace for their whole life, so they
// can be used from any goroutine afterwards. fn must not start goroutines
// that open sockets: they run on other threads. The thread is discarded
// after fn, never returned to the scheduler in the other namespace.
func InNamespace(name string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		f, err := os.Open("/run/netns/" + name)
		if err != nil {
			errc <- fmt.Errorf("namespace %q: %w", name, err)
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %q: %w", name, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}
