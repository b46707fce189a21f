package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/rs/zerolog"
)

// DefaultFilePoll is how often the file input looks for new lines.
const DefaultFilePoll = 250 * time.Millisecond

// Saving the read position: after this long or this many lines.
const (
	fileSaveEvery = 100 * time.Millisecond
	fileSaveLines = 1000
)

// FileOptions configures the file input.
type FileOptions struct {
	Path         string        // the file Falco's file_output writes, with json_output: true
	StateFile    string        // where the read position is kept; none if empty
	PollInterval time.Duration // DefaultFilePoll if 0
	MaxLine      int           // longest line read; DefaultMaxLine if 0
	Logger       zerolog.Logger
	OnDrop       func(reason string) // told of every skipped line; may be nil
}

// File follows a file of JSON alerts, one per line, like tail -F: it
// survives rename-and-create rotation and truncation, waits for a missing
// file, and keeps its position in StateFile across restarts. Without a saved
// position it reads the file from its start.
type File struct {
	opts FileOptions
	log  zerolog.Logger
}

// NewFile checks opts and fills in defaults.
func NewFile(opts FileOptions) (*File, error) {
	if opts.Path == "" {
		return nil, errors.New("file input: no path")
	}
	opts.Path = filepath.Clean(opts.Path)
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultFilePoll
	}
	return &File{opts: opts, log: opts.Logger.With().Str("input", "file").Str("path", opts.Path).Logger()}, nil
}

// Name returns "file".
func (f *File) Name() string { return "file" }

// Run follows the file until ctx ends, then saves its position and returns
// nil. A missing or unreadable file is waited for, never an error.
func (f *File) Run(ctx context.Context, sink Sink) error {
	t := &tail{
		f:        f,
		lines:    newLineSink(sink, f.log, f.opts.OnDrop),
		openErrs: logEvery{every: time.Minute},
		saveErrs: logEvery{every: time.Minute},
	}
	t.loadPos()
	defer t.stop()
	tick := time.NewTicker(f.opts.PollInterval)
	defer tick.Stop()
	for {
		t.poll(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// filePos is the saved read position: offset is the number of bytes of the
// file, identified by dev and inode, that were delivered or skipped.
type filePos struct {
	Path   string `json:"path"`
	Inode  uint64 `json:"inode"`
	Dev    uint64 `json:"dev"`
	Offset int64  `json:"offset"`
}

// tail is the state of one Run.
type tail struct {
	f        *File
	lines    *lineSink
	fd       *os.File
	dev, ino uint64
	sc       *lineScanner
	offset   int64    // bytes of fd consumed as lines
	resume   *filePos // where to start when the file is next opened
	rotated  bool     // the path names another file; fd is being drained
	saved    filePos
	savedAt  time.Time
	unsaved  int
	waiting  bool // logged that the file is missing
	openErrs logEvery
	saveErrs logEvery
}

// loadPos reads the saved position, if any.
func (t *tail) loadPos() {
	name := t.f.opts.StateFile
	if name == "" {
		return
	}
	data, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	var p filePos
	if err == nil {
		err = json.Unmarshal(data, &p)
	}
	switch {
	case err != nil:
		t.f.log.Warn().Err(err).Str("state_file", name).Msg("ignoring the saved position; reading from the start")
	case p.Path != t.f.opts.Path:
		t.f.log.Info().Str("state_file", name).Str("saved_path", p.Path).Msg("saved position is for another file; reading from the start")
	default:
		t.resume, t.saved = &p, p
	}
}

// poll reads what is new, then handles truncation and rotation.
func (t *tail) poll(ctx context.Context) {
	if t.fd == nil && !t.open() {
		return
	}
	pathInfo, pathErr := os.Stat(t.f.opts.Path)
	before := t.sc.total
	if !t.drain(ctx) {
		return
	}
	grew := t.sc.total > before
	if fi, err := t.fd.Stat(); err == nil && fi.Size() < t.offset+t.sc.pending() {
		t.f.log.Info().Int64("offset", t.offset).Int64("size", fi.Size()).Msg("file was truncated; reading from its start")
		if _, err := t.fd.Seek(0, io.SeekStart); err != nil {
			t.reopen(err)
			return
		}
		t.sc = newLineScanner(t.fd, t.f.opts.MaxLine)
		t.offset, t.lines.lineNo, t.rotated = 0, 0, false
		t.save(true)
		t.drain(ctx)
		return
	}
	switch {
	case pathErr != nil || sameFile(pathInfo, t.dev, t.ino):
		t.rotated = false
	case !t.rotated || grew:
		// The path names a new file, but Falco may write to the old one
		// until it reopens: read on until a poll finds nothing new.
		t.rotated = true
	default:
		t.switchFile()
		if t.fd != nil {
			t.drain(ctx)
		}
	}
	t.save(false)
}

// open opens the path and moves to the saved position if it belongs to the
// same file. It reports whether the file is open.
func (t *tail) open() bool {
	fd, err := os.Open(t.f.opts.Path)
	if errors.Is(err, fs.ErrNotExist) {
		if !t.waiting {
			t.waiting = true
			t.f.log.Info().Msg("waiting for the file to appear")
		}
		return false
	}
	var fi os.FileInfo
	if err == nil {
		fi, err = fd.Stat()
	}
	var offset int64
	if err == nil {
		offset = t.startOffset(fi)
		_, err = fd.Seek(offset, io.SeekStart)
	}
	if err != nil {
		if fd != nil {
			fd.Close()
		}
		if ok, n := t.openErrs.allow(time.Now()); ok {
			t.f.log.Warn().Err(err).Int("suppressed", n).Msg("cannot open the file; retrying")
		}
		return false
	}
	t.fd, t.offset, t.waiting, t.rotated = fd, offset, false, false
	t.dev, t.ino = fileID(fi)
	t.sc = newLineScanner(fd, t.f.opts.MaxLine)
	t.lines.lineNo = 0
	t.f.log.Info().Uint64("inode", t.ino).Int64("offset", offset).Msg("following the file")
	t.save(true)
	return true
}

// startOffset returns where to start reading the file fi: the saved
// position if it is for this file and within it, else 0.
func (t *tail) startOffset(fi os.FileInfo) int64 {
	r := t.resume
	if r == nil {
		return 0
	}
	t.resume = nil
	dev, ino := fileID(fi)
	switch {
	case r.Dev != dev || r.Inode != ino:
		t.f.log.Info().Uint64("saved_inode", r.Inode).Uint64("inode", ino).Msg("file was replaced since the position was saved; reading from its start")
		return 0
	case r.Offset > fi.Size():
		t.f.log.Info().Int64("saved_offset", r.Offset).Int64("size", fi.Size()).Msg("file is shorter than the saved position; reading from its start")
		return 0
	}
	return r.Offset
}

// drain delivers every complete line up to the end of the file. It reports
// false when it stopped early: ctx ended, or a read failed and the file
// was closed to be reopened at the next poll.
func (t *tail) drain(ctx context.Context) bool {
	for {
		line, size, err := t.sc.next()
		if err == io.EOF {
			return true
		}
		if err != nil && !errors.Is(err, errLineTooLong) {
			t.reopen(err)
			return false
		}
		if err := t.lines.handle(ctx, line, err, t.offset); err != nil {
			return false
		}
		t.offset += size
		t.unsaved++
		t.save(false)
	}
}

// reopen closes the file after an error; the next poll opens it again at
// the same position.
func (t *tail) reopen(err error) {
	t.f.log.Warn().Err(err).Int64("offset", t.offset).Msg("reading the file failed; reopening it")
	t.resume = &filePos{Path: t.f.opts.Path, Dev: t.dev, Inode: t.ino, Offset: t.offset}
	t.save(true)
	t.close()
}

// switchFile leaves the rotated file, which has been read to its end, for
// the new file at the path.
func (t *tail) switchFile() {
	if n := t.sc.pending(); n > 0 {
		t.lines.stats.Skipped++
		t.lines.onDrop(DropNotAlert)
		t.f.log.Warn().Int64("bytes", n).Msg("rotated file ended with an incomplete line; skipped it")
	}
	t.f.log.Info().Uint64("inode", t.ino).Int64("offset", t.offset).Msg("file was rotated; switching to the new file")
	t.close()
	t.open()
}

func (t *tail) close() {
	if t.fd != nil {
		t.fd.Close()
		t.fd = nil
	}
}

// stop ends a Run: it saves the position and logs skipped lines not yet
// reported.
func (t *tail) stop() {
	t.lines.bad.flush(time.Now())
	t.save(true)
	t.close()
}

// save writes the position when enough lines or time have passed since the
// last save, or whenever it changed if force is set.
func (t *tail) save(force bool) {
	if t.f.opts.StateFile == "" || t.fd == nil {
		return
	}
	now := time.Now()
	if !force && (t.unsaved == 0 || (t.unsaved < fileSaveLines && now.Sub(t.savedAt) < fileSaveEvery)) {
		return
	}
	p := filePos{Path: t.f.opts.Path, Inode: t.ino, Dev: t.dev, Offset: t.offset}
	if p == t.saved {
		t.unsaved = 0
		return
	}
	if err := writeFilePos(t.f.opts.StateFile, p); err != nil {
		if ok, n := t.saveErrs.allow(now); ok {
			t.f.log.Warn().Err(err).Int("suppressed", n).Msg("cannot save the read position")
		}
		return
	}
	t.saved, t.savedAt, t.unsaved = p, now, 0
}

// writeFilePos replaces the state file atomically: a crash leaves either
// the old or the new position, never a torn file.
func writeFilePos(name string, p filePos) error {
	data, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("save read position: %w", err)
	}
	dir := filepath.Dir(name)
	tmp, err := os.CreateTemp(dir, filepath.Base(name)+".tmp-*")
	if err != nil {
		return fmt.Errorf("save read position: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(append(data, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), name)
	}
	if err != nil {
		return fmt.Errorf("save read position: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// fileID returns the device and inode numbers of fi.
func fileID(fi os.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), uint64(st.Ino)
	}
	return 0, 0
}

// sameFile reports whether fi is the file with the given numbers.
func sameFile(fi os.FileInfo, dev, ino uint64) bool {
	d, i := fileID(fi)
	return d == dev && i == ino
}
