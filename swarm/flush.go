package swarm

import "sync"

// flushEvery is how many bytes may be done between two syncs of the output
// while it is written.
var flushEvery int64 = 64 << 20

// flushBehind syncs the output each time flushEvery more bytes of it are
// done, on a goroutine of its own, until the returned stop is called (which
// waits for a sync under way). The caller syncs the whole file before it
// renames it; without this, that one sync found nearly all of it still to
// write: on a virtual disk whose host caches writes, 0.25-0.3 s for 512 MB
// after a download of 0.6 s, even with the kernel's writeback started
// behind every block (sync_file_range, which this replaced). Synced as it
// goes, the last one takes 20-40 ms, and the writes are no slower. Errors
// are left to the caller's last sync.
func (d *Download) flushBehind() (stop func()) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	synced := d.plan.progress()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			changed := d.plan.changes()
			if n := d.plan.progress(); n-synced >= flushEvery {
				d.out.Sync()
				synced = n
				continue
			}
			select {
			case <-changed:
			case <-quit:
				return
			}
		}
	}()
	return func() { close(quit); wg.Wait() }
}
