package collection

import "runtime"

// testingMem measures the bytes a function allocates.
type testingMem struct{ bytes uint64 }

func (m *testingMem) measure(fn func()) {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	fn()
	runtime.ReadMemStats(&b)
	m.bytes = b.TotalAlloc - a.TotalAlloc
}
