package query

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fastjson"
	"golang.org/x/sys/unix"
)

// maxReport is the largest JSON file read as a report. The daemon caps
// every value, so its reports stay far below this.
const maxReport = 64 << 20

// racy is how close to a scan a directory may have changed for its
// modification time to be trusted: file systems stamp times from a coarse
// clock, so a change made just after a scan can carry the same time.
const racy = time.Second

// scanner reads the JSON reports in a directory and in its immediate
// subdirectories (the store's day directories), by their content: a file
// name is never parsed. It remembers what it read, so that the next scan
// reads only the directories that changed and, in them, only the files
// that changed (a report is rewritten by renaming a new file over it).
type scanner struct {
	root string
	grep []byte
	warn func(path string, err error) // once per file and problem
	now  func() time.Time

	dirs   map[string]*dirState // by directory path
	warned map[string]string    // path -> the problem last warned about
}

type dirState struct {
	mtime time.Time
	files map[string]*fileState // by file name
}

type fileState struct {
	ino   uint64
	size  int64
	mtime time.Time
	rec   *record // nil: not a report
}

// job is one JSON file to look at in this scan.
type job struct {
	dir, name string
	prev      *fileState
	siblings  map[string]bool // other file names in the directory
	out       *fileState
	err       error
	fresh     bool // read in this scan
}

func newScanner(root, grep string, warn func(string, error), now func() time.Time) *scanner {
	return &scanner{root: root, grep: []byte(strings.ToLower(grep)), warn: warn, now: now,
		dirs: map[string]*dirState{}, warned: map[string]string{}}
}

// scan returns every report in the tree and, separately, those read in
// this scan because they are new or changed since the previous one.
func (s *scanner) scan() (all, fresh []*record, err error) {
	start := s.now()
	var jobs []*job
	seen := map[string]bool{}
	subdirs, err := s.readDir(s.root, true, start, &jobs)
	if err != nil {
		return nil, nil, err
	}
	seen[s.root] = true
	for _, d := range subdirs {
		if _, err := s.readDir(d, false, start, &jobs); err != nil {
			if !gone(err) {
				s.once(d, err)
			}
			continue
		}
		seen[d] = true
	}
	for d := range s.dirs {
		if !seen[d] {
			delete(s.dirs, d)
		}
	}
	s.run(jobs)
	for _, j := range jobs {
		if j.err != nil {
			if !gone(j.err) {
				s.once(filepath.Join(j.dir, j.name), j.err)
			}
			delete(s.dirs[j.dir].files, j.name)
			continue
		}
		s.dirs[j.dir].files[j.name] = j.out
	}
	for _, d := range s.dirs {
		for _, f := range d.files {
			if f.rec != nil {
				all = append(all, f.rec)
			}
		}
	}
	for _, j := range jobs {
		if j.fresh && j.err == nil && j.out.rec != nil {
			fresh = append(fresh, j.out.rec)
		}
	}
	return all, fresh, nil
}

// readDir lists dir. When its modification time shows it unchanged since
// the last scan, its files are kept as they were; otherwise each JSON file
// becomes a job. At the top it returns the subdirectories.
func (s *scanner) readDir(dir string, top bool, start time.Time, jobs *[]*job) ([]string, error) {
	flags := unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC
	if !top {
		flags |= unix.O_NOFOLLOW // a symlink in the reports directory is not ours
	}
	fd, err := unix.Open(dir, flags, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	f := os.NewFile(uintptr(fd), dir)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: dir, Err: err}
	}
	mtime := time.Unix(st.Mtim.Unix())
	prev := s.dirs[dir]
	if prev != nil && mtime.Equal(prev.mtime) && mtime.Before(start.Add(-racy)) && !top {
		return nil, nil
	}
	ents, err := f.ReadDir(-1)
	if err != nil {
		return nil, &fs.PathError{Op: "read directory", Path: dir, Err: err}
	}
	next := &dirState{mtime: mtime, files: map[string]*fileState{}}
	if prev != nil {
		next.files = prev.files
	}
	s.dirs[dir] = next
	names := make(map[string]bool, len(ents))
	var subdirs []string
	var mine []*job
	for _, de := range ents {
		n := de.Name()
		if strings.HasPrefix(n, ".") {
			continue // temporary files, the lock
		}
		names[n] = true
		switch {
		case top && de.Type() == fs.ModeDir:
			subdirs = append(subdirs, filepath.Join(dir, n))
		case de.Type().IsRegular() && strings.HasSuffix(n, ".json"):
			var p *fileState
			if prev != nil {
				p = prev.files[n]
			}
			mine = append(mine, &job{dir: dir, name: n, prev: p, siblings: names})
		}
	}
	// Forget files that are gone.
	keep := map[string]*fileState{}
	for _, j := range mine {
		if j.prev != nil {
			keep[j.name] = j.prev
		}
	}
	next.files = keep
	*jobs = append(*jobs, mine...)
	slices.Sort(subdirs)
	return subdirs, nil
}

// run does the jobs on every core, each worker with its own parser and
// read buffer.
func (s *scanner) run(jobs []*job) {
	if len(jobs) == 0 {
		return
	}
	var wg sync.WaitGroup
	next := make(chan *job)
	for range min(runtime.GOMAXPROCS(0), len(jobs)) {
		wg.Go(func() {
			var p fastjson.Parser
			var buf []byte
			for j := range next {
				buf = s.do(j, &p, buf)
			}
		})
	}
	for _, j := range jobs {
		next <- j
	}
	close(next)
	wg.Wait()
}

// do reads one file if it is new or changed since the last scan.
func (s *scanner) do(j *job, p *fastjson.Parser, buf []byte) []byte {
	path := filepath.Join(j.dir, j.name)
	if pr := j.prev; pr != nil {
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			j.err = &fs.PathError{Op: "stat", Path: path, Err: err}
			return buf
		}
		if pr.ino == st.Ino && pr.size == st.Size && pr.mtime.Equal(time.Unix(st.Mtim.Unix())) {
			j.out = pr
			if pr.rec != nil {
				s.link(pr.rec, j)
			}
			return buf
		}
	}
	data, st, buf, err := readFile(path, buf)
	if err != nil {
		j.err = err
		return buf
	}
	j.fresh, j.out = true, &fileState{ino: st.Ino, size: st.Size, mtime: time.Unix(st.Mtim.Unix())}
	rec, err := decode(p, data, s.grep)
	if err != nil {
		// Not read again until it changes, and warned about once.
		j.fresh = false
		s.onceLocked(path, err)
		return buf
	}
	rec.modTime = j.out.mtime
	j.out.rec = &rec
	s.link(&rec, j)
	return buf
}

// link fills in the paths of a report's files.
func (s *scanner) link(r *record, j *job) {
	base := strings.TrimSuffix(j.name, ".json")
	r.entry.Files.JSON = filepath.Join(j.dir, j.name)
	r.entry.Files.Markdown, r.entry.Files.HTML = "", ""
	if j.siblings[base+".md"] {
		r.entry.Files.Markdown = filepath.Join(j.dir, base+".md")
	}
	if j.siblings[base+".html"] {
		r.entry.Files.HTML = filepath.Join(j.dir, base+".html")
	}
}

// readFile reads a regular file without following a symlink, into buf,
// and returns its status. It uses the system calls directly: a report is
// read in one go, and os.File's poller registration would cost more than
// the read.
func readFile(path string, buf []byte) (data []byte, st unix.Stat_t, _ []byte, err error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, st, buf, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, st, buf, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, st, buf, &fs.PathError{Op: "read", Path: path, Err: errors.New("not a regular file")}
	}
	if st.Size > maxReport {
		return nil, st, buf, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%d bytes: too large for a report", st.Size)}
	}
	if cap(buf) < int(st.Size) {
		buf = make([]byte, 0, int(st.Size)+4096)
	}
	buf = buf[:0]
	// Reports are renamed into place whole and never change after: the
	// size read by fstat is the whole file.
	for len(buf) < int(st.Size) {
		n, err := unix.Read(fd, buf[len(buf):st.Size])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, st, buf, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			break
		}
		buf = buf[:len(buf)+n]
	}
	return buf, st, buf, nil
}

// once calls warn for path and problem, once.
func (s *scanner) once(path string, err error) {
	if s.warn == nil || s.warned[path] == err.Error() {
		return
	}
	s.warned[path] = err.Error()
	s.warn(path, err)
}

var warnMu sync.Mutex

// onceLocked is once for the scan's workers.
func (s *scanner) onceLocked(path string, err error) {
	warnMu.Lock()
	defer warnMu.Unlock()
	s.once(path, err)
}

// gone reports whether err means the file or directory vanished meanwhile
// (retention deleted it, or a rewrite replaced it).
func gone(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR)
}
