package store

import (
	"io/fs"
	"os"

	"github.com/rtp-project/rtp/internal/statinfo"
)

// lstatAll takes the Info of the entries ss of the folder path with
// fstatat relative to the open folder: no path to resolve from the root for
// each, which took a tenth of a second start over 200,000 files.
func lstatAll(path string, ss []*statted) {
	dir, err := os.Open(path)
	if err != nil {
		lstatEach(path, ss)
		return
	}
	defer dir.Close()
	fd := int(dir.Fd())
	for _, s := range ss {
		fi, err := statinfo.Lstatat(fd, s.Name())
		if err != nil {
			s.err = &fs.PathError{Op: "lstat", Path: path + "/" + s.Name(), Err: err}
			continue
		}
		s.fi = fi
	}
}
