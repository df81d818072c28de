package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"syscall"

	"github.com/rtp-project/rtp/collection"
)

// stateFile, in stateDir, records each file rtpget placed in the target:
// what the file system said about it right after (size, mtime, inode,
// ctime) and its hashes. A later run trusts a file's hashes without
// reading it only when all four still match; any other file at a path the
// manifest names is hashed again. Records are written only after the files
// they name were synced, so after a crash a record never vouches for bytes
// that were not on disk.
const stateFile = stateDir + "/state.json"

// treeState is stateFile's content.
type treeState struct {
	Version int                    `json:"version"`
	Files   map[string]*placedFile `json:"files"`
}

// placedFile is one file as rtpget left it.
type placedFile struct {
	Size   int64  `json:"size"`
	MTime  int64  `json:"mtime_ns"`
	CTime  int64  `json:"ctime_ns,omitempty"`
	Inode  uint64 `json:"inode,omitempty"`
	Exec   bool   `json:"exec,omitempty"`
	BLAKE3 string `json:"blake3"`
	SHA256 string `json:"sha256"`
}

func record(fi fs.FileInfo, e collection.Entry) *placedFile {
	ino, ctime := fileID(fi)
	return &placedFile{
		Size: fi.Size(), MTime: fi.ModTime().UnixNano(), CTime: ctime, Inode: ino, Exec: e.Exec,
		BLAKE3: hex.EncodeToString(e.BLAKE3[:]), SHA256: hex.EncodeToString(e.SHA256[:]),
	}
}

// matches reports whether fi is still the file r recorded.
func (r *placedFile) matches(fi fs.FileInfo) bool {
	ino, ctime := fileID(fi)
	return r.Size == fi.Size() && r.MTime == fi.ModTime().UnixNano() && r.CTime == ctime && r.Inode == ino
}

// holds reports whether r's hashes are e's.
func (r *placedFile) holds(e collection.Entry) bool {
	return r.Size == e.Size && r.BLAKE3 == hex.EncodeToString(e.BLAKE3[:]) && r.SHA256 == hex.EncodeToString(e.SHA256[:])
}

// loadState reads the state; a missing or unreadable one is empty (every
// file present is then hashed again, nothing is lost).
func (t *treeDir) loadState() *treeState {
	st := &treeState{Version: 1, Files: map[string]*placedFile{}}
	b, err := t.root.ReadFile(stateFile)
	if err != nil {
		return st
	}
	var got treeState
	if json.Unmarshal(b, &got) != nil || got.Version != 1 || got.Files == nil {
		return st
	}
	return &got
}

// saveState writes the state atomically: a temporary file, synced, renamed.
func (t *treeDir) saveState(st *treeState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	// A name of its own each time, created afresh: whatever lies at
	// another name (a symlink to a user's file planted in .rtpget) is never
	// opened, so never truncated.
	tmp := fmt.Sprintf("%s.%x.tmp", stateFile, rand.Uint64())
	f, err := t.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = t.root.Rename(tmp, stateFile)
	}
	if err != nil {
		t.root.Remove(tmp)
		return fmt.Errorf("saving %s: %w", stateFile, err)
	}
	return nil
}
