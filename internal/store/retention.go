package store

import (
	"errors"
	"fmt"
	"io/fs"
	"time"

	"golang.org/x/sys/unix"
)

// Prune applies retention now and returns how many reports it deleted.
// WriteBatch and Open already prune; Prune is for a timer, so that MaxAge
// applies while no alerts arrive.
func (s *Store) Prune() (removed int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.base == nil {
		return 0, ErrClosed
	}
	return s.prune()
}

// prune deletes reports, all files of a report together, in the order of
// victim, while any limit is exceeded, then removes the day directories it
// emptied. It works from the index alone.
func (s *Store) prune() (removed int, err error) {
	var cutoff time.Time
	if s.ret.MaxAge > 0 {
		cutoff = s.now().Add(-s.ret.MaxAge)
	}
	dirs := map[string]*dayDir{}
	defer func() {
		for _, d := range dirs {
			if d != nil {
				_ = d.f.Close()
			}
		}
		for day := range dirs {
			if s.idx.perDay[day] > 0 {
				continue
			}
			if rerr := removeDayIfEmpty(s.fd, s.dir, day); rerr != nil && err == nil {
				err = fmt.Errorf("retention: %w", rerr)
			}
		}
	}()
	for r := s.victim(cutoff); r != nil; r = s.victim(cutoff) {
		d, ok := dirs[r.day]
		if !ok {
			d, err = openDay(s.fd, s.dir, r.day, false)
			if err != nil && !gone(err) {
				return removed, fmt.Errorf("retention: %w", err)
			}
			dirs[r.day] = d // nil when the directory is gone
		}
		if d != nil {
			if err := removeReport(d, r); err != nil {
				return removed, fmt.Errorf("retention: %w", err)
			}
		}
		s.idx.remove(r)
		removed++
	}
	return removed, nil
}

// victim returns the next report to delete, or nil when every bound is
// kept: first any report last written before cutoff; then, while there
// are too many reports or bytes, the oldest report of the lowest priority.
// A flood of low-priority reports thus never pushes out a more important
// one, and the time an intruder chooses for an alert cannot either.
func (s *Store) victim(cutoff time.Time) *record {
	if !cutoff.IsZero() {
		if r := s.idx.oldest(); r != nil && r.mtime.Before(cutoff) {
			return r
		}
	}
	if s.ret.MaxReports > 0 && s.idx.reports() > s.ret.MaxReports ||
		s.ret.MaxBytes > 0 && s.idx.bytes > s.ret.MaxBytes {
		return s.idx.leastImportant()
	}
	return nil
}

// removeReport deletes the files of r that are still regular files. A file
// that vanished or was replaced by a symlink or anything else is not
// deleted; the index forgets it either way.
func removeReport(d *dayDir, r *record) error {
	for _, f := range r.sizes {
		n := r.name + "." + f.ext
		_, regular, err := isRegular(d.fd, n)
		if gone(err) || err == nil && !regular {
			continue
		}
		if err == nil {
			err = unix.Unlinkat(d.fd, n, 0)
		}
		if err != nil && !gone(err) {
			return &fs.PathError{Op: "remove", Path: d.f.Name() + "/" + n, Err: err}
		}
	}
	return nil
}

// gone reports whether err means the path no longer leads to a directory
// or file of ours: it was removed, or replaced by a symlink.
func gone(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR)
}
