package wan

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// openTUN creates a TUN device named name (IFF_TUN|IFF_NO_PI, no vnet
// header, so the kernel segments TSO/GSO packets to the MTU before they
// reach it) in the calling thread's namespace and returns its fd as a
// non-blocking *os.File, which Go's poller serves. The device is not
// persistent: closing the file deletes it, wherever it lives by then.
func openTUN(name string) (*os.File, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/net/tun: %w", err)
	}
	var req [unix.IFNAMSIZ + 64]byte
	copy(req[:unix.IFNAMSIZ-1], name)
	*(*uint16)(unsafe.Pointer(&req[unix.IFNAMSIZ])) = unix.IFF_TUN | unix.IFF_NO_PI
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TUNSETIFF, uintptr(unsafe.Pointer(&req[0]))); errno != 0 {
		unix.Close(fd)
		return nil, fmt.Errorf("TUNSETIFF %s: %w", name, errno)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("tun %s: %w", name, err)
	}
	return os.NewFile(uintptr(fd), "tun:"+name), nil
}

// devName returns a fresh device name: "wan", 8 hex digits and a suffix
// letter, 12 characters, under the kernel's 15.
func devName(suffix string) string {
	var b [4]byte
	rand.Read(b[:])
	return "wan" + hex.EncodeToString(b[:]) + suffix
}

// txQueueLen is the length of the ring in each TUN device that holds the
// packets the kernel sent before this process reads them. The kernel drops
// what does not fit (DeviceDrops counts it); the default 500 overflows when
// a TCP sender bursts a large window faster than the reader runs, so the
// ring holds 16 MB of 1500-byte packets, more than a 100 ms queue at 1
// Gbit/s. Packets waiting in it have not been timestamped yet: a burst
// reaches the emulated queue spread over the time it takes to read it.
const txQueueLen = 10000

// setupDev moves the device dev into namespace ns and gives it its address,
// MTU and state up. The address's prefix gives the connected route to the
// peer.
func setupDev(dev, ns string, addr netip.Prefix, mtu int) error {
	if err := ip("link", "set", "dev", dev, "netns", ns); err != nil {
		return err
	}
	if addr.Addr().Is4() {
		// No IPv6 link-local address, so no router solicitations or MLD
		// reports cross the link uninvited. Kernels without IPv6 refuse.
		ip("-n", ns, "link", "set", "dev", dev, "addrgenmode", "none")
	}
	add := []string{"-n", ns, "addr", "add", addr.String(), "dev", dev}
	if addr.Addr().Is6() {
		add = append(add, "nodad") // usable at once
	}
	for _, args := range [][]string{
		{"-n", ns, "link", "set", "dev", dev, "mtu", strconv.Itoa(mtu), "txqueuelen", strconv.Itoa(txQueueLen)},
		add,
		{"-n", ns, "link", "set", "dev", dev, "up"},
	} {
		if err := ip(args...); err != nil {
			return err
		}
	}
	return nil
}

// ip runs the ip(8) command with args and returns its stderr in the error.
func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
