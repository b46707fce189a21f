package stream

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// maxRotated bounds how many rotated files are looked at.
const maxRotated = 256

// rotatedFile is a file next to the followed one, named as logrotate names
// rotated files: events.json.1, events.json.2.gz, events.json-20260402,
// events-20260402.json.
type rotatedFile struct {
	path     string
	num      int  // logrotate's number (events.json.3: 3), or -1
	gz       bool // compressed with gzip
	dev, ino uint64
	birth    int64 // creation time, or 0
	size     int64
	mtime    time.Time
	head     []byte // first bytes of its content, up to fpMax
}

// pendingFile is a rotated file to read from offset to its end.
type pendingFile struct {
	rf     rotatedFile
	offset int64
}

// open opens rf for reading from offset. Rotation renames files, so the
// name may by now be another file's: the file is found again by its inode.
func (rf rotatedFile) open(offset int64, maxLine int) (*follow, error) {
	fd, fi, err := rf.openAt(rf.path)
	if err != nil {
		// Renamed since it was listed (logrotate shifts the numbers).
		if name := findInode(filepath.Dir(rf.path), rf.dev, rf.ino); name != "" {
			fd, fi, err = rf.openAt(name)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open rotated file %s: %w", rf.path, err)
	}
	if rf.gz {
		return newGzipFollow(rf.path, fd, fi, offset, maxLine)
	}
	return newFollow(rf.path, fd, fi, offset, maxLine)
}

// openAt opens path if it still holds rf: the same inode, created at the
// same time and, for a plain file, beginning with the same bytes. An inode
// number freed by logrotate (a file compressed and deleted) is soon given
// to another file.
func (rf rotatedFile) openAt(path string) (*os.File, os.FileInfo, error) {
	fd, fi, err := openID(path, rf.dev, rf.ino)
	if err != nil {
		return nil, nil, err
	}
	same := sameBirth(rf.birth, birth(fd))
	if same && !rf.gz {
		head := make([]byte, len(rf.head))
		n, err := fd.ReadAt(head, 0)
		same = (err == nil || err == io.EOF) && n == len(head) && string(head) == string(rf.head)
	}
	if !same {
		fd.Close()
		return nil, nil, errRenamed
	}
	return fd, fi, nil
}

// errRenamed means a name no longer names the file looked for.
var errRenamed = errors.New("renamed since it was listed")

// openID opens path if it is the file dev, ino.
func openID(path string, dev, ino uint64) (*os.File, os.FileInfo, error) {
	if path == "" {
		return nil, nil, fs.ErrNotExist
	}
	fd, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	fi, err := fd.Stat()
	if err == nil && !sameFile(fi, dev, ino) {
		err = errRenamed
	}
	if err != nil {
		fd.Close()
		return nil, nil, err
	}
	return fd, fi, nil
}

// findInode returns the name in dir of the file dev, ino, or "".
func findInode(dir string, dev, ino uint64) string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && sameFile(fi, dev, ino) {
			return filepath.Join(dir, e.Name())
		}
	}
	return ""
}

// rotatedFiles lists the rotated files next to the followed one, oldest
// first: by modification time, which is the time of the last write for a
// renamed file, of the copy for copytruncate, and is kept by logrotate's
// compression; on a tie, by logrotate's number (a higher number is older).
// Empty files, copies of a listed one (a file and its .gz while logrotate
// compresses) and files this run has read to their end are left out.
func (t *tail) rotatedFiles() []rotatedFile {
	path := t.f.opts.Path
	dir, base := filepath.Split(path)
	stem := strings.TrimSuffix(base, filepath.Ext(base))
	entries, err := os.ReadDir(filepath.Clean(dir))
	if err != nil {
		return nil
	}
	var out []rotatedFile
	for _, e := range entries {
		name := e.Name()
		rest, ok := rotatedSuffix(name, base, stem)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		rf := rotatedFile{path: filepath.Join(filepath.Clean(dir), name), num: -1}
		if r, isGz := strings.CutSuffix(rest, ".gz"); isGz {
			rf.gz, rest = true, r
		} else if compressed(rest) {
			t.f.log.Debug().Str("file", name).Msg("rotated file compressed with other than gzip: not read")
			continue
		}
		if n, err := strconv.Atoi(strings.TrimPrefix(rest, ".")); err == nil && strings.HasPrefix(rest, ".") {
			rf.num = n
		}
		if !rf.load() {
			continue
		}
		out = append(out, rf)
		if len(out) == maxRotated {
			break
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.mtime.Equal(b.mtime) {
			return a.mtime.Before(b.mtime)
		}
		if a.num >= 0 && b.num >= 0 && a.num != b.num {
			return a.num > b.num
		}
		return a.path < b.path
	})
	return t.notDone(dedupe(out))
}

// rotatedSuffix returns what follows the followed file's name in a
// rotated file's name, and whether name is one.
func rotatedSuffix(name, base, stem string) (string, bool) {
	if name == base {
		return "", false
	}
	for _, p := range []string{base + ".", base + "-", stem + "-"} {
		if rest, ok := strings.CutPrefix(name, p); ok && rest != "" {
			return name[len(p)-1:], true
		}
	}
	return "", false
}

// compressed reports a suffix of a compressor other than gzip.
func compressed(rest string) bool {
	for _, ext := range []string{".bz2", ".xz", ".zst", ".lz4", ".lzma", ".Z", ".zip"} {
		if strings.HasSuffix(rest, ext) {
			return true
		}
	}
	return false
}

// load fills in rf's metadata and first bytes; false if it is unreadable
// or empty.
func (rf *rotatedFile) load() bool {
	fd, err := os.Open(rf.path)
	if err != nil {
		return false
	}
	defer fd.Close()
	fi, err := fd.Stat()
	if err != nil || fi.Size() == 0 {
		return false
	}
	rf.dev, rf.ino = fileID(fi)
	rf.size, rf.mtime, rf.birth = fi.Size(), fi.ModTime(), birth(fd)
	var r io.Reader = fd
	if rf.gz {
		zr, err := gzip.NewReader(fd)
		if err != nil {
			return false
		}
		r = zr
	}
	head := make([]byte, fpMax)
	n, err := io.ReadFull(r, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return false
	}
	rf.head = head[:n]
	return n > 0
}

// notDone drops the files this run has already read to their end.
func (t *tail) notDone(list []rotatedFile) []rotatedFile {
	var out []rotatedFile
	for _, rf := range list {
		if !t.isDone(rf) {
			out = append(out, rf)
		}
	}
	return out
}

// isDone reports whether rf was read to its end in this run: it begins
// with the same bytes, as far as both go (a finished file's first bytes
// are all known).
func (t *tail) isDone(rf rotatedFile) bool {
	for _, id := range t.done {
		if string(rf.head) == string(id.head) {
			return true
		}
	}
	return false
}

// markDone remembers that f was read to its end.
func (t *tail) markDone(f *follow) {
	if len(t.done) == maxRotated {
		t.done = t.done[1:]
	}
	t.done = append(t.done, f.identity())
}

// dedupe drops files whose content starts as an earlier one's does, keeping
// the uncompressed one.
func dedupe(list []rotatedFile) []rotatedFile {
	var out []rotatedFile
	for _, rf := range list {
		dup := false
		for i, kept := range out {
			if string(kept.head) == string(rf.head) {
				if kept.gz && !rf.gz {
					out[i] = rf
				}
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, rf)
		}
	}
	return out
}

// chainFrom finds the file with identity id in list (rotatedFiles) and
// returns it, to be read from offset, followed by every file rotated after
// it. When it is not there, it returns the files modified after since,
// which the lost file was rotated before.
func chainFrom(list []rotatedFile, id identity, offset int64, since time.Time) ([]pendingFile, bool) {
	for i, rf := range list {
		if id.matches(rf) {
			chain := []pendingFile{{rf: rf, offset: offset}}
			for _, n := range list[i+1:] {
				chain = append(chain, pendingFile{rf: n})
			}
			return chain, true
		}
	}
	var chain []pendingFile
	for _, rf := range list {
		if !since.IsZero() && rf.mtime.After(since) {
			chain = append(chain, pendingFile{rf: rf})
		}
	}
	return chain, false
}

// rotatedAfter returns the files rotated after f, which was renamed: the
// files after it in rotation order, or, if f was deleted, those modified
// after it; copies of f itself are left out. It also returns the listing.
func (t *tail) rotatedAfter(f *follow) ([]rotatedFile, []rotatedFile) {
	list := t.rotatedFiles()
	id := f.identity()
	for i, rf := range list {
		if !rf.gz && rf.dev == f.dev && rf.ino == f.ino && sameBirth(rf.birth, f.birth) {
			return withoutCopies(list[i+1:], id), list
		}
	}
	var out []rotatedFile
	if fi, err := f.fd.Stat(); err == nil {
		for _, rf := range list {
			if rf.mtime.After(fi.ModTime()) {
				out = append(out, rf)
			}
		}
	}
	return withoutCopies(out, id), list
}

func withoutCopies(list []rotatedFile, id identity) []rotatedFile {
	var out []rotatedFile
	for _, rf := range list {
		if !id.matches(rf) {
			out = append(out, rf)
		}
	}
	return out
}
