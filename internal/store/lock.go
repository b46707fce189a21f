package store

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// ErrInUse is wrapped by the error Lock returns when another process holds
// the directory.
var ErrInUse = errors.New("reports directory is in use")

// lockFile is the name of the lock file inside the reports directory.
const lockFile = ".lock"

// inUseError says who holds the lock.
type inUseError struct {
	dir string
	pid int
}

func (e *inUseError) Error() string {
	pid := "pid unknown"
	if e.pid > 0 {
		pid = "pid " + strconv.Itoa(e.pid)
	}
	return fmt.Sprintf("reports directory %s is in use by another falco-reporter (%s)", e.dir, pid)
}

func (e *inUseError) Unwrap() error { return ErrInUse }

// Lock takes an exclusive, non-blocking flock on <dir>/.lock, creating dir
// (mode 0750) and the file (mode 0640) if needed, and writes the process
// id into it. If another process holds the lock the error wraps ErrInUse
// and names that process. The lock lasts until unlock is called or the
// process exits; calling unlock again does nothing.
func Lock(dir string) (unlock func() error, err error) {
	dir = filepath.Clean(dir)
	if err := makeDir(dir); err != nil {
		return nil, err
	}
	f, err := openLockFile(filepath.Join(dir, lockFile))
	if err != nil {
		return nil, fmt.Errorf("lock reports directory: %w", err)
	}
	if err := flock(f, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		pid := readPID(f)
		_ = f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, &inUseError{dir: dir, pid: pid}
		}
		return nil, fmt.Errorf("lock reports directory %s: %w", dir, err)
	}
	if err := writePID(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("lock reports directory: %w", err)
	}
	var once sync.Once
	return func() error {
		var err error
		once.Do(func() {
			err = flock(f, unix.LOCK_UN)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				err = fmt.Errorf("unlock reports directory: %w", err)
			}
		})
		return err
	}, nil
}

// openLockFile opens the lock file without following a symlink, creating
// it with mode 0640 if it does not exist.
func openLockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, fileMode)
	if err == nil {
		if err := f.Chmod(fileMode); err != nil {
			_ = f.Close()
			return nil, err
		}
		return f, nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	return os.OpenFile(path, os.O_RDWR|syscall.O_NOFOLLOW, 0)
}

func flock(f *os.File, how int) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		for {
			if ferr = unix.Flock(int(fd), how); ferr != unix.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	if ferr != nil {
		return &fs.PathError{Op: "flock", Path: f.Name(), Err: ferr}
	}
	return nil
}

func readPID(f *os.File) int {
	b, err := io.ReadAll(io.NewSectionReader(f, 0, 32))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0
	}
	return pid
}

func writePID(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}
