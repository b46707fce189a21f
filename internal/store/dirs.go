package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

const (
	dirMode  = 0o750
	fileMode = 0o640
)

// makeDir creates dir and any missing parents with mode 0750, set with
// chmod so that the umask does not matter, and syncs the parent of each
// directory it creates. Directories that already exist are left as they are.
func makeDir(dir string) error {
	var missing []string
	for p := filepath.Clean(dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("create reports directory: %s is not a directory", p)
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) || p == filepath.Dir(p) {
			return fmt.Errorf("create reports directory: %w", err)
		}
		missing = append(missing, p)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		p := missing[i]
		if err := os.Mkdir(p, dirMode); err != nil {
			if errors.Is(err, fs.ErrExist) {
				continue // made by someone else meanwhile; not ours to chmod
			}
			return fmt.Errorf("create reports directory: %w", err)
		}
		if err := os.Chmod(p, dirMode); err != nil {
			return fmt.Errorf("create reports directory: %w", err)
		}
		if err := syncDir(filepath.Dir(p)); err != nil {
			return fmt.Errorf("create reports directory: %w", err)
		}
	}
	return nil
}

// syncDir fsyncs the directory at path.
func syncDir(path string) error {
	d, err := os.Open(path)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// dayDir is an open day directory.
type dayDir struct {
	name    string
	f       *os.File
	fd      int
	created bool
}

// openDay opens the day directory named day inside the directory open as
// base, without following a symlink. With create it makes a missing
// directory with mode 0750; created then says so.
func openDay(base int, baseDir, day string, create bool) (*dayDir, error) {
	const flags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	path := filepath.Join(baseDir, day)
	created := false
	fd, err := unix.Openat(base, day, flags, 0)
	if errors.Is(err, unix.ENOENT) && create {
		if err = unix.Mkdirat(base, day, dirMode); err == nil {
			created = true
		} else if errors.Is(err, unix.EEXIST) {
			err = nil
		}
		if err == nil {
			fd, err = unix.Openat(base, day, flags, 0)
		}
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open day directory", Path: path, Err: err}
	}
	d := &dayDir{name: day, f: os.NewFile(uintptr(fd), path), fd: fd, created: created}
	if created {
		if err := unix.Fchmod(fd, dirMode); err != nil {
			_ = d.f.Close()
			return nil, &fs.PathError{Op: "chmod", Path: path, Err: err}
		}
	}
	return d, nil
}

// removeDayIfEmpty removes the day directory day if it is empty. A
// directory that still holds anything, or is not a directory, stays.
func removeDayIfEmpty(base int, baseDir, day string) error {
	err := unix.Unlinkat(base, day, unix.AT_REMOVEDIR)
	switch {
	case err == nil, errors.Is(err, unix.ENOTEMPTY), errors.Is(err, unix.EEXIST),
		errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTDIR):
		return nil
	}
	return &fs.PathError{Op: "remove day directory", Path: filepath.Join(baseDir, day), Err: err}
}

// isRegular reports whether name inside dir is a regular file, without
// following a symlink, and returns its status.
func isRegular(dir int, name string) (unix.Stat_t, bool, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return st, false, err
	}
	return st, st.Mode&unix.S_IFMT == unix.S_IFREG, nil
}
