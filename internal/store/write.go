package store

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// ErrRetention is wrapped by the error WriteBatch returns when every report
// was written but retention then failed: the caller must not retry the
// writes.
var ErrRetention = errors.New("retention failed")

// WriteBatch writes every file of every entry atomically: each goes to a
// temporary file in its day directory and is renamed into place, so that a
// reader or a killed process never sees a partial report. It does not
// fsync: call Sync once after one or more batches to make them durable
// (one syncfs instead of a fsync per file). A machine crash before Sync
// may leave a renamed file empty or short; the caller must be able to
// write it again (falco-reporter replays its spool). Writing an existing
// name replaces it. Entries are validated first; one invalid entry
// rejects the batch (the error wraps ErrInvalid).
//
// A day directory whose name is taken by a symlink or a file does not stop
// the batch: that day's reports go to a fallback directory (2026-04-02_1)
// and Options.OnBadDay is told once.
//
// On a write error (ENOSPC, EROFS, EACCES, ...) WriteBatch removes its
// temporary files and returns an error wrapping the system call error;
// no final name ever holds a partial file, and the caller may retry the
// whole batch. After a successful write it applies retention; if only
// that fails the error wraps ErrRetention and the Written list is valid.
// Data slices must not be modified during the call.
func (s *Store) WriteBatch(entries []Entry) ([]Written, error) {
	days := make([]string, len(entries))
	for i, e := range entries {
		day, err := checkEntry(e)
		if err != nil {
			return nil, fmt.Errorf("write reports: entry %d: %w", i, err)
		}
		days[i] = day
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.base == nil {
		return nil, ErrClosed
	}
	b := &batch{s: s, dirs: map[string]*dayDir{}}
	defer b.close()
	if err := b.write(entries, days); err != nil {
		return nil, fmt.Errorf("write reports: %w", err)
	}
	written := make([]Written, len(entries))
	k := 0
	for i, e := range entries {
		w := Written{Name: e.Name, Paths: make([]string, len(e.Files))}
		for j := range e.Files {
			w.Paths[j] = b.temps[k].path(b.temps[k].final)
			k++
		}
		written[i] = w
	}
	if _, err := s.prune(); err != nil {
		return written, fmt.Errorf("write reports: %w: %w", ErrRetention, err)
	}
	return written, nil
}

// batch is one WriteBatch in progress.
type batch struct {
	s     *Store
	dirs  map[string]*dayDir
	order []*dayDir // touched directories, in first-use order
	temps []temp
}

func (b *batch) write(entries []Entry, days []string) error {
	for i, e := range entries {
		d, err := b.dir(days[i])
		if err != nil {
			return err
		}
		for _, f := range e.Files {
			b.temps = append(b.temps, temp{dir: d, name: e.Name, ext: f.Ext, data: f.Data,
				final: e.Name + "." + f.Ext, chmod: b.s.chmod})
		}
	}
	if err := b.writeTemps(); err != nil {
		return err
	}
	now := b.s.now()
	for i := range b.temps {
		t := &b.temps[i]
		if err := unix.Renameat(t.dir.fd, t.tmp, t.dir.fd, t.final); err != nil {
			return &fs.PathError{Op: "rename", Path: t.path(t.final), Err: err}
		}
		t.renamed = true
		b.s.idx.put(t.dir.name, t.name, t.ext, int64(len(t.data)), now)
	}
	return nil
}

// dir returns the open directory for day, creating it if needed, or the
// day's fallback directory when day's own name is not a directory of ours.
func (b *batch) dir(day string) (*dayDir, error) {
	name := day
	if f, ok := b.s.fallback[day]; ok {
		name = f
	}
	if d, ok := b.dirs[name]; ok {
		return d, nil
	}
	d, err := openDay(b.s.fd, b.s.dir, name, true)
	if err != nil && notOurs(err) && name == day {
		bad := err
		for i := 1; i <= maxFallbacks && err != nil && notOurs(err); i++ {
			name = fallbackDay(day, i)
			d, err = openDay(b.s.fd, b.s.dir, name, true)
		}
		if err == nil {
			b.s.fallback[day] = name
			if b.s.onBadDay != nil {
				b.s.onBadDay(day, filepath.Join(b.s.dir, name), bad)
			}
		}
	}
	if err != nil {
		return nil, err
	}
	b.dirs[name] = d
	b.order = append(b.order, d)
	return d, nil
}

// notOurs reports whether err means the name is taken by something that is
// not a directory: a symlink or a file.
func notOurs(err error) bool {
	return errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.EEXIST)
}

// Sync makes every report written so far durable, with one syncfs(2) of
// the reports directory's filesystem.
func (s *Store) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.base == nil {
		return ErrClosed
	}
	if err := unix.Syncfs(s.fd); err != nil {
		return fmt.Errorf("sync reports: %w", &fs.PathError{Op: "syncfs", Path: s.dir, Err: err})
	}
	return nil
}

// close removes the temporary files that were not renamed, and day
// directories this batch created but left empty, and closes directories.
func (b *batch) close() {
	used := map[*dayDir]bool{}
	for i := range b.temps {
		t := &b.temps[i]
		if t.renamed {
			used[t.dir] = true
		} else {
			t.discard()
		}
	}
	for _, d := range b.order {
		_ = d.f.Close()
		if d.created && !used[d] && b.s.idx.perDay[d.name] == 0 {
			_ = removeDayIfEmpty(b.s.fd, b.s.dir, d.name)
		}
	}
}
