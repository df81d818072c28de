// Package wan is a user-space link emulator for benchmarks on kernels
// without netem: IP packets between two network namespaces pass through a
// TUN device in each, and this process forwards them with a per-direction
// one-way delay, jitter (never reordering), random or burst
// (Gilbert-Elliott) loss, and a rate limit behind a bounded tail-drop queue.
//
// The caller makes the namespaces; Start makes the devices:
//
//	l, err := wan.Start(wan.Config{
//		NameA: "nsA", NameB: "nsB",
//		AddrA: netip.MustParsePrefix("10.88.1.1/24"),
//		AddrB: netip.MustParsePrefix("10.88.1.2/24"),
//		AtoB:  wan.Dir{Delay: 50 * time.Millisecond, Rate: 200e6, Loss: 0.01},
//		BtoA:  wan.Dir{Delay: 50 * time.Millisecond, Rate: 200e6},
//	})
//	if err != nil { ... }
//	defer l.Close()
//	l.Set(wan.Dir{Loss: 1}, wan.Dir{Loss: 1}) // a blackout
//
// Per direction a packet read from the sending device is first dropped by
// loss, then by the tail-drop queue when the bytes waiting for the rate
// limiter exceed Dir.Queue, then serialized at Dir.Rate, then held for
// Delay ± Jitter, and written to the other device. See README.md for the
// measured precision and the rate it carries.
package wan
