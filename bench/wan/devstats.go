package wan

import (
	"encoding/binary"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// DeviceDrops returns the packets each TUN device dropped because this
// process did not read them in time (its transmit ring was full): losses
// the link did not mean to make, so a benchmark should report them. The
// first count is of the device in NameA (packets A sent to B), the second
// of the one in NameB. It asks the kernel over netlink in each namespace.
func (l *Link) DeviceDrops() (atob, btoa int64, err error) {
	if atob, err = txDropped(l.nameA, l.DevA); err != nil {
		return 0, 0, err
	}
	btoa, err = txDropped(l.nameB, l.DevB)
	return atob, btoa, err
}

// txDropped reads tx_dropped of device dev in namespace ns.
func txDropped(ns, dev string) (int64, error) {
	var rib []byte
	err := InNamespace(ns, func() (err error) {
		rib, err = syscall.NetlinkRIB(syscall.RTM_GETLINK, syscall.AF_UNSPEC)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("netlink in %s: %w", ns, err)
	}
	msgs, err := syscall.ParseNetlinkMessage(rib)
	if err != nil {
		return 0, err
	}
	for _, m := range msgs {
		if m.Header.Type != syscall.RTM_NEWLINK {
			continue
		}
		attrs, err := syscall.ParseNetlinkRouteAttr(&m)
		if err != nil {
			return 0, err
		}
		var name string
		var stats []byte
		for _, a := range attrs {
			switch a.Attr.Type {
			case syscall.IFLA_IFNAME:
				name = string(a.Value[:clen(a.Value)])
			case unix.IFLA_STATS64:
				stats = a.Value
			}
		}
		// struct rtnl_link_stats64 starts with eight u64: rx_packets,
		// tx_packets, rx_bytes, tx_bytes, rx_errors, tx_errors,
		// rx_dropped, tx_dropped.
		if name == dev && len(stats) >= 64 {
			return int64(binary.NativeEndian.Uint64(stats[56:])), nil
		}
	}
	return 0, fmt.Errorf("device %s not found in %s", dev, ns)
}

func clen(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return len(b)
}
