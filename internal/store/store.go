// Package store keeps the reports directory: <dir>/<YYYY-MM-DD>/<name>.md
// and <name>.json. It writes reports atomically, makes them durable with
// one syncfs per batch, keeps an in-memory index of what the directory
// holds, and enforces retention: reports of the lowest priority go first,
// the oldest first within a priority. It knows nothing of report formats;
// the priority is the second part of a report's name.
//
// The store builds paths only from validated names and day directories,
// never follows a symlink inside the directory, and deletes only files that
// match its own naming pattern.
package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrClosed is returned by methods called after Close.
var ErrClosed = errors.New("store is closed")

// Retention bounds the directory. A zero field is unlimited. Reports
// older than MaxAge are deleted whatever their priority; to keep MaxReports
// and MaxBytes, reports of the lowest priority go first, and within a
// priority the oldest (see Store.victim).
type Retention struct {
	MaxAge     time.Duration // reports last written longer ago are deleted
	MaxReports int           // reports, whatever their number of files
	MaxBytes   int64         // total size of all report files: the hard bound on disk
}

// Options configure Open.
type Options struct {
	Dir       string
	Retention Retention
	Now       func() time.Time // defaults to time.Now
	// OnBadDay, if set, is told once per day when that day's directory name
	// is taken by a symlink or a file, and the day's reports go to dir.
	OnBadDay func(day, dir string, err error)
}

// File is one format of a report.
type File struct {
	Ext  string // "md" or "json"
	Data []byte
}

// Entry is one report to write: its files go to <dir>/<Day>/<Name>.<Ext>.
// Day is formatted in its own location.
type Entry struct {
	Day   time.Time
	Name  string
	Files []File
}

// Written tells where one entry was written.
type Written struct {
	Name  string
	Paths []string
}

// Store is an open reports directory. Its methods are safe for concurrent
// use; writes are serialised.
type Store struct {
	dir  string
	ret  Retention
	now  func() time.Time
	mu   sync.Mutex
	base *os.File // the reports directory, open for *at system calls
	fd   int
	idx  *index

	onBadDay func(day, dir string, err error)
	fallback map[string]string // day -> the fallback directory in use
	chmod    bool              // the umask clears bits of fileMode: chmod each file
}

// Open creates the reports directory if needed (mode 0750), removes
// temporary files left by a crash, indexes the reports already there and
// applies retention once. Open does not lock the directory; see Lock.
func Open(opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, errors.New("open reports directory: no directory given")
	}
	r := opts.Retention
	if r.MaxAge < 0 || r.MaxReports < 0 || r.MaxBytes < 0 {
		return nil, fmt.Errorf("open reports directory: negative retention %+v", r)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	dir := filepath.Clean(opts.Dir)
	if err := makeDir(dir); err != nil {
		return nil, err
	}
	base, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("open reports directory: %w", err)
	}
	s := &Store{dir: dir, ret: r, now: opts.Now, base: base, fd: int(base.Fd()), idx: newIndex(),
		onBadDay: opts.OnBadDay, fallback: map[string]string{}, chmod: umaskClears(fileMode)}
	if err := s.scan(); err != nil {
		_ = base.Close()
		return nil, err
	}
	if _, err := s.prune(); err != nil {
		_ = base.Close()
		return nil, err
	}
	return s, nil
}

// umaskClears reports whether the process's umask clears any bit of mode,
// or cannot be read; files are then chmod-ed after creation.
func umaskClears(mode uint32) bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return true
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Umask:"); ok {
			u, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32)
			return err != nil || uint32(u)&mode != 0
		}
	}
	return true
}

// Close releases the directory. It does not sync: call Sync first.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.base == nil {
		return ErrClosed
	}
	err := s.base.Close()
	s.base = nil
	if err != nil {
		return fmt.Errorf("close reports directory: %w", err)
	}
	return nil
}

// Usage returns the number of report files and their total size.
func (s *Store) Usage() (files int, bytes int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.idx.files, s.idx.bytes
}

// Reports returns the number of reports in the directory.
func (s *Store) Reports() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.idx.reports()
}

// Dir returns the reports directory.
func (s *Store) Dir() string { return s.dir }

// Path returns where the ext file of e is (or would be) written, or "" if
// e's name, day or ext is not valid.
func (s *Store) Path(e Entry, ext string) string {
	day, err := dayName(e.Day)
	if err != nil || checkName(e.Name) != nil || checkExt(ext) != nil {
		return ""
	}
	s.mu.Lock()
	if f, ok := s.fallback[day]; ok {
		day = f
	}
	s.mu.Unlock()
	return filepath.Join(s.dir, day, e.Name+"."+ext)
}
