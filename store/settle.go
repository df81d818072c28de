package store

import (
	"time"
)

// racyWindow is how long a file must have stood still, by its mtime, before
// it is hashed. A write sets the file's mtime when it starts, before it
// copies bytes in, and the kernel's file times move in ticks (a few ms on
// Linux, a second on some file systems). So a file modified this recently
// may still be in the middle of one large write that no stat check can
// see, or may be written again within the same tick, leaving a stat that
// matches the index over bytes that do not match the hash. As git does for
// "racily clean" index entries, such a file is not trusted as it is: its
// hash waits until the window has passed, and the stat taken after that
// must still be the walk's (else the file is being written, and the next
// pass tries again). A file whose mtime is in the future was last set by
// hand (a write sets it to now) and is not waited for.
const racyWindow = time.Second

// settle waits, at most racyWindow, until the file of job j, as the walk
// saw it, has stood still for racyWindow.
func settle(j scanJob) {
	wait := racyWindow - time.Since(time.Unix(0, j.st.Mtime))
	if wait > 0 && wait <= racyWindow {
		time.Sleep(wait)
	}
}
