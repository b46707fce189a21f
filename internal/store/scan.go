package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// scan indexes the reports in every day directory and removes temporary
// files a crash left behind. Anything else, and anything reached through
// a symlink, is left alone.
func (s *Store) scan() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("scan reports directory: %w", err)
	}
	for _, de := range entries {
		if !isDayName(de.Name()) || de.Type() != fs.ModeDir {
			continue
		}
		if err := s.scanDay(de.Name()); err != nil {
			return fmt.Errorf("scan reports directory: %w", err)
		}
	}
	return nil
}

func (s *Store) scanDay(day string) error {
	d, err := openDay(s.fd, s.dir, day, false)
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ENOENT) {
		return nil // replaced by a symlink or removed since ReadDir
	}
	if err != nil {
		return err
	}
	defer d.f.Close()
	names, err := d.f.Readdirnames(-1)
	if err != nil {
		return err
	}
	reports, cleaned := 0, false
	for _, n := range names {
		st, regular, err := isRegular(d.fd, n)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return &fs.PathError{Op: "lstat", Path: d.f.Name() + "/" + n, Err: err}
		}
		if !regular {
			continue
		}
		if strings.HasPrefix(n, tmpPrefix) {
			if err := unix.Unlinkat(d.fd, n, 0); err != nil && !errors.Is(err, unix.ENOENT) {
				return &fs.PathError{Op: "remove temporary file", Path: d.f.Name() + "/" + n, Err: err}
			}
			cleaned = true
			continue
		}
		name, ext, ok := splitFile(n)
		if !ok {
			continue
		}
		sec, nsec := st.Mtim.Unix()
		s.idx.put(day, name, ext, st.Size, time.Unix(sec, nsec))
		reports++
	}
	if cleaned && reports == 0 {
		return removeDayIfEmpty(s.fd, s.dir, day)
	}
	return nil
}
