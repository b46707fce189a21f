package stream

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Saving the read position: after this long or this many lines.
const (
	fileSaveEvery = 100 * time.Millisecond
	fileSaveLines = 1000
)

// filePos is the saved read position: offset is the number of bytes of
// the file being read that were delivered or skipped. The file is known by
// its device, inode and creation time and by its first bytes, so that it
// is recognised after a truncation, as a copy or as a gzip.
type filePos struct {
	Path   string `json:"path"` // the configured path
	Inode  uint64 `json:"inode"`
	Dev    uint64 `json:"dev"`
	Offset int64  `json:"offset"`
	Size   int64  `json:"size,omitempty"`     // the file's size when saved
	MTime  int64  `json:"mtime_ns,omitempty"` // its modification time when saved
	Head   string `json:"head,omitempty"`     // base64 of its first bytes, up to 4 KiB
	Birth  int64  `json:"birth_ns,omitempty"` // creation time, where the file system keeps it
}

// pos returns the position of f, for the input following path.
func (f *follow) pos(path string) filePos {
	return filePos{Path: path, Inode: f.ino, Dev: f.dev, Offset: f.offset, Size: max(f.size, 0),
		MTime: f.mtime.UnixNano(), Head: base64.StdEncoding.EncodeToString(f.head), Birth: f.birth}
}

// identity returns the identity of the saved file.
func (p filePos) identity() identity {
	id := identity{dev: p.Dev, ino: p.Inode, birth: p.Birth}
	if b, err := base64.StdEncoding.DecodeString(p.Head); err == nil && len(b) <= fpMax {
		id.head = b
	}
	return id
}

// loadPos reads the saved position, if any.
func (t *tail) loadPos() {
	name := t.f.opts.StateFile
	if name == "" {
		return
	}
	data, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	var p filePos
	if err == nil {
		err = json.Unmarshal(data, &p)
	}
	switch {
	case err != nil:
		t.f.log.Warn().Err(err).Str("state_file", name).Msg("ignoring the saved position; reading from the start")
	case p.Path != t.f.opts.Path:
		t.f.log.Info().Str("state_file", name).Str("saved_path", p.Path).Msg("saved position is for another file; reading from the start")
	default:
		t.resume, t.saved = &p, p
	}
}

// savedAtPath opens the file at the path if it is still the saved file,
// not cut below the saved position.
func (t *tail) savedAtPath(p *filePos) (*os.File, os.FileInfo, bool) {
	fd, fi, err := t.openPath()
	if err != nil {
		return nil, nil, false
	}
	id := p.identity()
	dev, ino := fileID(fi)
	ok := dev == id.dev && ino == id.ino && fi.Size() >= p.Offset && sameBirth(id.birth, birth(fd))
	if ok && len(id.head) > 0 {
		head := make([]byte, len(id.head))
		_, err := fd.ReadAt(head, 0)
		ok = err == nil && string(head) == string(id.head)
	}
	if !ok {
		fd.Close()
		return nil, nil, false
	}
	return fd, fi, true
}

// savedChain returns the rotated files to read after a restart that found
// another file, or a cut one, at the path: the saved file from the saved
// position, and every file rotated after it. A saved file that is gone is
// logged and counted as lost.
func (t *tail) savedChain(p *filePos) []pendingFile {
	t.listing = t.rotatedFiles()
	chain, found := chainFrom(t.listing, p.identity(), p.Offset, time.Unix(0, p.MTime))
	if found {
		t.f.log.Info().Str("file", chain[0].rf.path).Int64("offset", p.Offset).Int("rotated_files", len(chain)).
			Msg("the file was rotated while stopped; reading the rotated files first")
	} else {
		t.lost(t.f.opts.Path, max(p.Size-p.Offset, 0), p.Offset, errors.New("the file read before the restart is not among the rotated files"))
	}
	return chain
}

// save writes the position of the file being read when enough lines or
// time have passed since the last save, or whenever it changed if force
// is set.
func (t *tail) save(force bool) {
	if t.f.opts.StateFile == "" || t.reading == nil {
		return
	}
	now := time.Now()
	if !force && (t.unsaved == 0 || (t.unsaved < fileSaveLines && now.Sub(t.savedAt) < fileSaveEvery)) {
		return
	}
	p := t.reading.pos(t.f.opts.Path)
	if p == t.saved {
		t.unsaved = 0
		return
	}
	if err := writeFilePos(t.f.opts.StateFile, p); err != nil {
		if ok, n := t.saveErrs.allow(now); ok {
			t.f.log.Warn().Err(err).Int("suppressed", n).Msg("cannot save the read position")
		}
		return
	}
	t.saved, t.savedAt, t.unsaved = p, now, 0
}

// writeFilePos replaces the state file atomically: a crash leaves either
// the old or the new position, never a torn file.
func writeFilePos(name string, p filePos) error {
	data, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("save read position: %w", err)
	}
	dir := filepath.Dir(name)
	tmp, err := os.CreateTemp(dir, filepath.Base(name)+".tmp-*")
	if err != nil {
		return fmt.Errorf("save read position: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(append(data, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), name)
	}
	if err != nil {
		return fmt.Errorf("save read position: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// fileID returns the device and inode numbers of fi.
func fileID(fi os.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), uint64(st.Ino)
	}
	return 0, 0
}

// birth returns the creation time of the open file in nanoseconds, or 0
// where the file system does not keep it. With the inode it tells a file
// from a later one that reuses its inode number.
func birth(fd *os.File) int64 {
	raw, err := fd.SyscallConn()
	if err != nil {
		return 0
	}
	var st unix.Statx_t
	var serr error
	if err := raw.Control(func(f uintptr) {
		serr = unix.Statx(int(f), "", unix.AT_EMPTY_PATH, unix.STATX_BTIME, &st)
	}); err != nil || serr != nil || st.Mask&unix.STATX_BTIME == 0 {
		return 0
	}
	return st.Btime.Sec*1e9 + int64(st.Btime.Nsec)
}

// sameBirth reports whether two creation times can be of the same file.
func sameBirth(a, b int64) bool { return a == 0 || b == 0 || a == b }

// sameFile reports whether fi is the file with the given numbers.
func sameFile(fi os.FileInfo, dev, ino uint64) bool {
	d, i := fileID(fi)
	return d == dev && i == ino
}
