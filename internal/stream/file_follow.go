package stream

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// fpMax is how many of a file's first bytes identify it, with its inode:
// Falco's lines start with a timestamp, so two files rarely share them.
const fpMax = 4096

// follow is one open file being read. Its head is its first bytes as far
// as they are known: read, or looked at.
type follow struct {
	name     string // the name it was opened by, for logs
	fd       *os.File
	gz       bool // read through gzip
	dev, ino uint64
	birth    int64  // creation time, or 0
	head     []byte // the file's first bytes, up to fpMax, as read
	offset   int64  // bytes consumed as whole lines
	sc       *lineScanner
	size     int64     // size at the last look
	mtime    time.Time // modification time at the last look
}

// newFollow starts reading the open plain file fd at offset.
func newFollow(name string, fd *os.File, fi os.FileInfo, offset int64, maxLine int) (*follow, error) {
	f := &follow{name: name, fd: fd, offset: offset, size: fi.Size(), mtime: fi.ModTime(), birth: birth(fd)}
	f.dev, f.ino = fileID(fi)
	head := make([]byte, min(fpMax, max(offset, fi.Size())))
	n, err := fd.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		fd.Close()
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	f.head = head[:n]
	if _, err := fd.Seek(offset, io.SeekStart); err != nil {
		fd.Close()
		return nil, fmt.Errorf("seek %s: %w", name, err)
	}
	f.sc = newLineScanner(&headRecorder{r: fd, f: f, pos: offset}, maxLine)
	return f, nil
}

// newGzipFollow starts reading the gzip file fd at offset of its content.
func newGzipFollow(name string, fd *os.File, fi os.FileInfo, offset int64, maxLine int) (*follow, error) {
	zr, err := gzip.NewReader(fd)
	if err != nil {
		fd.Close()
		return nil, fmt.Errorf("gzip %s: %w", name, err)
	}
	f := &follow{name: name, fd: fd, gz: true, mtime: fi.ModTime(), size: -1, birth: birth(fd)}
	f.dev, f.ino = fileID(fi)
	rec := &headRecorder{r: zr, f: f}
	if _, err := io.CopyN(io.Discard, rec, offset); err != nil && err != io.EOF {
		fd.Close()
		return nil, fmt.Errorf("gzip %s: %w", name, err)
	}
	f.offset = offset
	f.sc = newLineScanner(rec, maxLine)
	return f, nil
}

// headRecorder passes reads through and keeps the file's first fpMax
// bytes in f.head as they go by.
type headRecorder struct {
	r   io.Reader
	f   *follow
	pos int64 // position in the file of the next byte read
}

func (h *headRecorder) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if n > 0 && !h.f.sameHead() {
		// Cut and written again since the last look: these bytes are not
		// the ones after the read position, which are in the copy.
		return 0, errTruncated
	}
	if have := int64(len(h.f.head)); n > 0 && have < fpMax && h.pos <= have {
		start := have - h.pos
		if end := min(int64(n), start+fpMax-have); start < end {
			h.f.head = append(h.f.head, p[start:end]...)
		}
	}
	h.pos += int64(n)
	return n, err
}

// errTruncated stops reading a file found cut while it was read.
var errTruncated = errors.New("file truncated while read")

// sameHead reports whether the plain file still starts with f.head.
func (f *follow) sameHead() bool {
	if f.gz || len(f.head) == 0 {
		return true
	}
	now := make([]byte, len(f.head))
	n, err := f.fd.ReadAt(now, 0)
	if err != nil && err != io.EOF {
		return true // cannot tell; the next look will
	}
	return n == len(f.head) && string(now) == string(f.head)
}

// truncated reports whether the plain file f was cut since it was read:
// it is shorter than what was read, or its first bytes changed (cut, then
// grown again past the old position).
func (t *tail) truncated(f *follow) bool {
	if f.gz {
		return false
	}
	fi, err := f.fd.Stat()
	if err != nil {
		return false
	}
	read := f.offset + f.sc.pending()
	if fi.Size() < read {
		return true
	}
	n := min(int64(len(f.head)), fi.Size())
	now := make([]byte, n)
	if _, err := f.fd.ReadAt(now, 0); err != nil && err != io.EOF {
		return false
	}
	if string(now) != string(f.head[:n]) {
		return true
	}
	f.size, f.mtime = fi.Size(), fi.ModTime()
	f.growHead()
	return false
}

// growHead adds to f.head the bytes written since, up to fpMax: the
// file's identity covers what is in it, read or not, so that a copy or a
// gzip of it is recognised even before its lines are read.
func (f *follow) growHead() {
	have := int64(len(f.head))
	if f.gz || have >= fpMax || f.size <= have {
		return
	}
	more := make([]byte, min(fpMax, f.size)-have)
	n, err := f.fd.ReadAt(more, have)
	if (err != nil && err != io.EOF) || !f.sameHead() {
		return // cut meanwhile: the bytes may be the new content's
	}
	f.head = append(f.head, more[:n]...)
}

// rewind reads a truncated file again from its start.
func (f *follow) rewind(maxLine int) error {
	if _, err := f.fd.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("seek %s: %w", f.name, err)
	}
	f.head, f.offset, f.size = nil, 0, 0
	f.sc = newLineScanner(&headRecorder{r: f.fd, f: f}, maxLine)
	return nil
}

func (f *follow) close() {
	if f.fd != nil {
		f.fd.Close()
		f.fd = nil
	}
}

// identity is what tells a file apart: its inode and creation time, and
// its first bytes, which a copy (copytruncate) or a gzip of it shares.
type identity struct {
	dev, ino uint64
	birth    int64  // creation time, or 0
	head     []byte // first bytes, up to fpMax, as far as known
}

func (f *follow) identity() identity {
	return identity{dev: f.dev, ino: f.ino, birth: f.birth, head: f.head}
}

// matches reports whether rf holds the file with this identity: the same
// inode with the same first bytes, or a copy with the same first bytes. A
// copy can be shorter than what was seen of the file (lines written
// between logrotate's copy and its truncation), so the shorter of the two
// is compared. With no first bytes known, only the inode can tell.
func (id identity) matches(rf rotatedFile) bool {
	if !rf.gz && rf.dev == id.dev && rf.ino == id.ino && sameBirth(rf.birth, id.birth) {
		return len(id.head) == 0 || samePrefix(rf.head, id.head)
	}
	return samePrefix(rf.head, id.head)
}

// samePrefix reports whether a and b, both not empty, agree as far as the
// shorter goes: the same content, one seen later than the other (a copy
// still being made, a file still being written, a copy cut short).
func samePrefix(a, b []byte) bool {
	m := min(len(a), len(b))
	return m > 0 && string(a[:m]) == string(b[:m])
}
