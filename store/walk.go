package store

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
)

// walkDir is filepath.WalkDir, but the Info of a folder's regular files is
// taken for all of them at once, on every core, as soon as the folder is
// read: a second start over a folder of 200,000 files spent half its time
// in one lstat after another. The DirEntry passed to fn returns that Info
// (or its error) without another system call; the order of the calls, the
// handling of fs.SkipDir and fs.SkipAll and the errors passed to fn are
// those of filepath.WalkDir.
func walkDir(root string, fn fs.WalkDirFunc) error {
	fi, err := os.Lstat(root)
	if err != nil {
		err = fn(root, nil, err)
	} else {
		err = walkDirIn(root, fs.FileInfoToDirEntry(fi), fn)
	}
	if err == filepath.SkipDir || err == filepath.SkipAll {
		return nil
	}
	return err
}

func walkDirIn(path string, d fs.DirEntry, fn fs.WalkDirFunc) error {
	if err := fn(path, d, nil); err != nil || !d.IsDir() {
		if err == filepath.SkipDir && d.IsDir() {
			err = nil
		}
		return err
	}
	des, err := readDirStat(path)
	if err != nil {
		if err = fn(path, d, err); err != nil {
			if err == filepath.SkipDir && d.IsDir() {
				err = nil
			}
			return err
		}
	}
	for _, de := range des {
		if err := walkDirIn(filepath.Join(path, de.Name()), de, fn); err != nil {
			if err == filepath.SkipDir {
				break
			}
			return err
		}
	}
	return nil
}

// statted is a DirEntry with its Info taken already.
type statted struct {
	fs.DirEntry
	fi  fs.FileInfo
	err error
}

func (s *statted) Info() (fs.FileInfo, error) { return s.fi, s.err }

// parallelStat is the fewest regular files in a folder worth statting on
// more than one goroutine.
const parallelStat = 32

// readDirStat reads a folder, sorted by name, and takes the Info of its
// regular files.
func readDirStat(path string) ([]fs.DirEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	des, err := f.ReadDir(-1)
	f.Close()
	slices.SortFunc(des, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	var reg []*statted
	for i, de := range des {
		if de.Type().IsRegular() {
			s := &statted{DirEntry: de}
			des[i] = s
			reg = append(reg, s)
		}
	}
	n := runtime.GOMAXPROCS(0)
	if len(reg) < parallelStat || n == 1 {
		lstatAll(path, reg)
		return des, err
	}
	var wg sync.WaitGroup
	per := (len(reg) + n - 1) / n
	for chunk := range slices.Chunk(reg, per) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lstatAll(path, chunk)
		}()
	}
	wg.Wait()
	return des, err
}

// lstatEach takes the Info of the entries ss of the folder path with
// os.Lstat.
func lstatEach(path string, ss []*statted) {
	for _, s := range ss {
		s.fi, s.err = os.Lstat(filepath.Join(path, s.Name()))
	}
}
