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
	// workers bounds how many temporary files are created or fsynced at
	// once. Concurrent fsyncs let the file system commit them together.
	workers = 16
	// chunk bounds how many temporary files are open at once.
	chunk = 512
)

// temp is one file of the batch on its way to its final name.
type temp struct {
	dir              *dayDir
	name, ext        string
	data             []byte
	tmp, final       string
	f                *os.File // open between create and sync
	created, renamed bool
}

// writeTemps creates, writes and fsyncs every temporary file. It works
// through the batch a chunk at a time: first every file of the chunk is
// written and its writeback started, then all are fsynced, so that the
// data is on its way to disk before the first fsync waits for it.
func (b *batch) writeTemps() error {
	for start := 0; start < len(b.temps); start += chunk {
		part := b.temps[start:min(start+chunk, len(b.temps))]
		if err := parallel(part, (*temp).create); err != nil {
			return err
		}
		if err := parallel(part, (*temp).sync); err != nil {
			return err
		}
	}
	return nil
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

// create makes the temporary file with mode 0640, writes the data and
// starts its writeback. The file stays open for sync.
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
	t.f = os.NewFile(uintptr(fd), t.path(t.tmp))
	if err := t.f.Chmod(fileMode); err != nil { // the umask may have cleared bits
		return err
	}
	if _, err := t.f.Write(t.data); err != nil {
		return err
	}
	// A hint only: fsync reports any error that writeback meets.
	_ = unix.SyncFileRange(fd, 0, 0, unix.SYNC_FILE_RANGE_WRITE)
	return nil
}

// sync fsyncs and closes the temporary file.
func (t *temp) sync() error {
	err := t.f.Sync()
	if cerr := t.f.Close(); err == nil {
		err = cerr
	}
	t.f = nil
	return err
}

// discard closes and removes the temporary file, if there is one. Open
// removes it later if this fails.
func (t *temp) discard() {
	if t.f != nil {
		_ = t.f.Close()
		t.f = nil
	}
	if t.created {
		_ = unix.Unlinkat(t.dir.fd, t.tmp, 0)
	}
}

func (t *temp) path(file string) string {
	return filepath.Join(t.dir.f.Name(), file)
}
