package store

import (
	"time"

	"go.etcd.io/bbolt"
)

// An index pass records what it hashed in groups: one bbolt transaction, so
// one fsync, per commitMax files or per commitEvery, whichever comes first.
// A transaction per file made the first pass over many small files wait on
// the disk for each: about 120 files/s.
//
// Crash safety is the same as with one transaction per file: an entry is
// committed only after its bytes were hashed and its tree file (if any)
// synced and renamed into place, and a group is one transaction, so a
// crash loses at most the files hashed in the last commitEvery and never
// leaves the index half written.
const (
	commitMax   = 4096
	commitEvery = 100 * time.Millisecond
)

// afterCommit, when set (by tests), is called after each group is
// committed with the number of files in it.
var afterCommit func(files int)

// commitGroups records the results read from in until it is closed, and
// returns the jobs whose entries it committed. After an error it keeps
// reading, so that no sender blocks, but writes nothing more.
func (d *Disk) commitGroups(in <-chan hashed) (done []scanJob, err error) {
	group := make([]hashed, 0, commitMax)
	timer := time.NewTimer(commitEvery)
	timer.Stop()
	flush := func() {
		timer.Stop()
		if len(group) == 0 || err != nil {
			group = group[:0]
			return
		}
		err = d.db.Update(func(tx *bbolt.Tx) error {
			for i := range group {
				h := &group[i]
				var err error
				if h.entry == nil {
					err = deleteEntry(tx, h.job.rel)
				} else {
					err = putEntry(tx, h.entry, h.inline)
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			for _, h := range group {
				if h.entry != nil {
					done = append(done, h.job)
				}
			}
			if afterCommit != nil {
				afterCommit(len(group))
			}
		}
		clear(group)
		group = group[:0]
	}
	for {
		select {
		case h, ok := <-in:
			if !ok {
				flush()
				return done, err
			}
			if len(group) == 0 {
				timer.Reset(commitEvery)
			}
			group = append(group, h)
			if len(group) >= commitMax {
				flush()
			}
		case <-timer.C:
			flush()
		}
	}
}
