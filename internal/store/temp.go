package store

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

const (
	// workers bounds how many temporary files are written at once.
	workers = 16
)

// temp is one file of the batch on its way to its final name.
type temp struct {
	dir              *dayDir
	name, ext        string
	data             []byte
	tmp, final       string
	created, renamed bool
	chmod            bool // the umask clears bits of fileMode
}

// writeTemps creates and writes every temporary file, a few at a time.
func (b *batch) writeTemps() error {
	return parallel(b.temps, (*temp).create)
}

// parallel runs fn on every temp with a few workers and returns the first
// error; after an error it starts no new calls.
func parallel(ts []temp, fn func(*temp) error) error {
	var next atomic.Int64
	var failed atomic.Bool
	errs := make([]error, min(len(ts), workers))
	var wg sync.WaitGroup
	for w := range errs {
		wg.Go(func() {
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= len(ts) {
					return
				}
				if err := fn(&ts[i]); err != nil {
					errs[w] = err
					failed.Store(true)
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// create makes the temporary file with mode 0640 and writes the data.
func (t *temp) create() error {
	const flags = unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC
	var fd int
	var err error
	for range 3 {
		t.tmp = fmt.Sprintf("%s%s.%s.%016x", tmpPrefix, t.name, t.ext, rand.Uint64())
		if fd, err = unix.Openat(t.dir.fd, t.tmp, flags, fileMode); !errors.Is(err, unix.EEXIST) {
			break
		}
	}
	if err != nil {
		return &fs.PathError{Op: "create", Path: t.path(t.tmp), Err: err}
	}
	t.created = true
	f := os.NewFile(uintptr(fd), t.path(t.tmp))
	if t.chmod {
		err = f.Chmod(fileMode) // the umask cleared bits
	}
	if err == nil {
		_, err = f.Write(t.data)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// discard removes the temporary file, if there is one. Open removes it
// later if this fails.
func (t *temp) discard() {
	if t.created {
		_ = unix.Unlinkat(t.dir.fd, t.tmp, 0)
	}
}

func (t *temp) path(file string) string {
	return filepath.Join(t.dir.f.Name(), file)
}
