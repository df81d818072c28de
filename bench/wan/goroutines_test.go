package wan

import "runtime"

// countGoroutines returns the number of goroutines once the ones that are
// ending have ended: Close returns after its goroutines are done, but the
// runtime may count them for a moment longer.
func countGoroutines() int {
	n := runtime.NumGoroutine()
	for range 100 {
		runtime.Gosched()
		if m := runtime.NumGoroutine(); m < n {
			n = m
		}
	}
	return n
}
