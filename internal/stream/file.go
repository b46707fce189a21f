package stream

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/rs/zerolog"
)

// DefaultFilePoll is how often the file input looks for new lines.
const DefaultFilePoll = 250 * time.Millisecond

// FileOptions configures the file input.
type FileOptions struct {
	Path         string        // the file Falco's file_output writes, with json_output: true
	StateFile    string        // where the read position is kept; none if empty
	PollInterval time.Duration // DefaultFilePoll if 0
	MaxLine      int           // longest line read; DefaultMaxLine if 0
	Logger       zerolog.Logger
	OnDrop       func(reason string) // told of every skipped line and lost rotated file; may be nil
}

// File follows a file of JSON alerts, one per line, as Falco's file_output
// writes it, across every kind of rotation logrotate does, with or without
// a restart of the reporter:
//
//   - rename and create (logrotate's default): the renamed file is read to
//     its end before the new one, however long the writer goes on writing
//     to it (Falco writes to it until SIGUSR1 makes it reopen);
//   - copytruncate: the file is known by a fingerprint of its first bytes
//     as well as by its inode, so a truncation is seen even when the file
//     has grown past the old position again; the lines written before the
//     truncation are read from the copy;
//   - several rotations between two looks, and rotations while the
//     reporter is stopped: the rotated files are found among the names
//     next to the file (events.json.1, events.json.2.gz, events.json-DATE)
//     by inode or fingerprint, and read in order, gzip included.
//
// Lines are lost only when a rotated file holding unread lines is gone
// (deleted, or compressed with something other than gzip); that is logged
// at WARN with the bytes known to be lost and counted. Without a saved
// position the file is read from its start.
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
	if opts.OnDrop == nil {
		opts.OnDrop = func(string) {}
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

// tail is the state of one Run.
type tail struct {
	f       *File
	lines   *lineSink
	cur     *follow    // the file followed: the one at the path, or a rotated one the writer may still append to
	reading *follow    // the file whose position is saved: cur, or a rotated one being finished
	resume  *filePos   // the saved position, until the first open
	done    []identity // files read to their end in this run
	// While nothing of the followed file has been read, its first bytes
	// cannot identify a copy of it: the rotated files present then are
	// remembered instead, with the file's modification time.
	known      map[string]bool
	knownMTime time.Time
	// listing is the rotated files as listed before the files in it were
	// read: the next file followed remembers it, not a later listing,
	// which could hold a copy made while they were read.
	listing []rotatedFile
	// before holds the first bytes of the rotated files listed while the
	// file was missing, or before the rotated files were read: the others
	// appeared since (the file at the path was rotated meanwhile) and are
	// unread. nil: nothing to look for.
	before   [][]byte
	lastPoll time.Time
	saved    filePos
	savedAt  time.Time
	unsaved  int
	waiting  bool // logged that the file is missing
	openErrs logEvery
	saveErrs logEvery
}

// poll reads what is new, then handles truncation and rotation.
func (t *tail) poll(ctx context.Context) {
	defer func() { t.lastPoll = time.Now() }()
	if t.cur == nil && !t.start(ctx) {
		return
	}
	if t.truncated(t.cur) {
		t.copyTruncated(ctx)
		return
	}
	if !t.missedCopies(ctx) {
		return
	}
	if !t.drain(ctx, t.cur) {
		return
	}
	t.checkRotation(ctx)
	t.save(false)
}

// start opens the file at the path, at the saved position if it is still
// the saved file. If the saved file was rotated away while the reporter
// was stopped, it is first read to its end from the rotated names, with
// every file rotated after it. It reports whether a file is followed.
func (t *tail) start(ctx context.Context) bool {
	if r := t.resume; r != nil {
		t.resume = nil
		if fd, fi, ok := t.savedAtPath(r); ok {
			if r.Head == "" {
				// Nothing of the file was read before the stop, so a copy
				// made of it since (copytruncate) is known only by its time.
				t.listing = t.rotatedFiles()
				chain, _ := chainFrom(t.listing, identity{}, 0, time.Unix(0, r.MTime))
				if !t.finishChain(ctx, chain) || t.cur != nil {
					fd.Close()
					return t.cur != nil
				}
			}
			return t.follow(newFollow(t.f.opts.Path, fd, fi, r.Offset, t.f.opts.MaxLine))
		}
		chain := t.savedChain(r)
		t.noteBefore(t.listing)
		if !t.finishChain(ctx, chain) {
			return false
		}
		if t.cur != nil {
			return true // a rotated file the writer may still append to
		}
	}
	fd, fi, err := t.openPath()
	if errors.Is(err, fs.ErrNotExist) && t.before == nil {
		// What is rotated from now on was written after this look.
		t.noteBefore(t.rotatedFiles())
	}
	if err != nil {
		return false
	}
	if t.before != nil {
		// The file appeared, and may have been rotated already.
		var chain []pendingFile
		t.listing = t.rotatedFiles()
		dev, ino := fileID(fi)
		for _, rf := range t.listing {
			opened := !rf.gz && rf.dev == dev && rf.ino == ino // renamed since: followed below
			if !opened && !slices.ContainsFunc(t.before, func(h []byte) bool { return samePrefix(h, rf.head) }) {
				chain = append(chain, pendingFile{rf: rf})
			}
		}
		t.before = nil
		if !t.finishChain(ctx, chain) || t.cur != nil {
			fd.Close()
			return t.cur != nil
		}
	}
	return t.follow(newFollow(t.f.opts.Path, fd, fi, 0, t.f.opts.MaxLine))
}

// noteBefore remembers the rotated files of list: a file rotated after
// list was made, while the files in it were read, is read before the file
// then found at the path.
func (t *tail) noteBefore(list []rotatedFile) {
	t.before = make([][]byte, 0, len(list))
	for _, rf := range list {
		t.before = append(t.before, rf.head)
	}
}

// finishChain reads rotated files to their ends, oldest first. The last one
// is followed instead when the path holds no data yet: the writer may still
// be appending to it. It returns false when ctx ended first.
func (t *tail) finishChain(ctx context.Context, chain []pendingFile) bool {
	for i, p := range chain {
		last := i == len(chain)-1
		if last && !p.rf.gz && !t.pathHasData() {
			if f, err := p.rf.open(p.offset, t.f.opts.MaxLine); err == nil {
				t.f.log.Info().Str("file", p.rf.path).Int64("offset", p.offset).Msg("following a rotated file: the writer may still append to it")
				t.cur = nil
				return t.follow(f, nil)
			}
		}
		if !t.finish(ctx, p) {
			return false
		}
	}
	return true
}

// pathHasData reports whether a non-empty file is at the path.
func (t *tail) pathHasData() bool {
	fi, err := os.Stat(t.f.opts.Path)
	return err == nil && fi.Size() > 0
}

// openPath opens the file at the path, logging once while it is missing.
func (t *tail) openPath() (*os.File, os.FileInfo, error) {
	fd, err := os.Open(t.f.opts.Path)
	if errors.Is(err, fs.ErrNotExist) {
		if !t.waiting {
			t.waiting = true
			t.f.log.Info().Msg("waiting for the file to appear")
		}
		return nil, nil, err
	}
	var fi os.FileInfo
	if err == nil {
		if fi, err = fd.Stat(); err != nil {
			fd.Close()
		}
	}
	if err != nil {
		if ok, n := t.openErrs.allow(time.Now()); ok {
			t.f.log.Warn().Err(err).Int("suppressed", n).Msg("cannot open the file; retrying")
		}
		return nil, nil, err
	}
	t.waiting = false
	return fd, fi, nil
}

// follow makes f the followed file.
func (t *tail) follow(f *follow, err error) bool {
	if err != nil {
		t.f.log.Warn().Err(err).Msg("cannot read the file; retrying")
		return false
	}
	t.cur, t.reading = f, f
	t.lines.lineNo = 0
	t.remember(t.listing)
	t.listing = nil
	t.f.log.Info().Str("file", f.name).Uint64("inode", f.ino).Int64("offset", f.offset).Msg("following the file")
	t.save(true)
	return true
}

// drain delivers every complete line up to the end of f. It reports false
// when it stopped early: ctx ended, or a read failed and the file was
// closed to be reopened at the next poll.
func (t *tail) drain(ctx context.Context, f *follow) bool {
	for {
		line, size, err := f.sc.next()
		if err == io.EOF || errors.Is(err, errTruncated) {
			return true // a truncation is handled at the next poll
		}
		if err != nil && !errors.Is(err, errLineTooLong) {
			t.readFailed(f, err)
			return false
		}
		if err := t.lines.handle(ctx, line, err, f.offset); err != nil {
			return false
		}
		f.offset += size
		t.unsaved++
		t.save(false)
	}
}

// readFailed closes the followed file after a read error; the next poll
// opens it again at the same position.
func (t *tail) readFailed(f *follow, err error) {
	t.f.log.Warn().Err(err).Str("file", f.name).Int64("offset", f.offset).Msg("reading the file failed; reopening it")
	p := f.pos(t.f.opts.Path)
	t.save(true)
	if f == t.cur {
		t.cur.close()
		t.cur, t.reading = nil, nil
		t.resume = &p
	}
}

// finish reads a rotated file from an offset to its end: the writer has
// moved on from it, so a last line without its newline is skipped.
func (t *tail) finish(ctx context.Context, p pendingFile) bool {
	f, err := p.rf.open(p.offset, t.f.opts.MaxLine)
	// Gone since it was listed: logrotate compressed it; read the .gz,
	// which may itself be renamed meanwhile.
	for try := 0; err != nil && !p.rf.gz && try < 3; try++ {
		for _, rf := range t.rotatedFiles() {
			if rf.gz && string(rf.head) == string(p.rf.head) {
				f, err = rf.open(p.offset, t.f.opts.MaxLine)
				break
			}
		}
	}
	if err != nil {
		t.lost(p.rf.path, -1, p.offset, err)
		return true
	}
	defer f.close()
	prev := t.reading
	t.reading = f
	t.lines.lineNo = 0
	t.f.log.Info().Str("file", f.name).Uint64("inode", f.ino).Int64("offset", p.offset).Msg("reading a rotated file to its end")
	t.save(true)
	if !t.drain(ctx, f) {
		return false
	}
	t.endPartial(f)
	t.markDone(f)
	t.reading = prev
	return true
}

// endPartial counts and logs the incomplete line a finished file ends with.
func (t *tail) endPartial(f *follow) {
	if n := f.sc.pending(); n > 0 {
		t.lines.stats.Skipped++
		t.lines.onDrop(DropNotAlert)
		t.f.log.Warn().Str("file", f.name).Int64("bytes", n).Msg("rotated file ended with an incomplete line; skipped it")
	}
}

// lost reports lines that cannot be read: a rotated file with unread lines
// is gone or unreadable. bytes is how many are known to be lost, or -1.
func (t *tail) lost(name string, bytes, offset int64, err error) {
	t.f.opts.OnDrop(DropFileUnread)
	ev := t.f.log.Warn().Str("file", name).Int64("offset", offset)
	if bytes >= 0 {
		ev = ev.Int64("bytes_skipped", bytes)
	}
	ev.AnErr("reason", err).Msg("lines of a rotated file cannot be read and are lost: it was deleted or compressed before it was read to its end (use delaycompress, or rotate less often than the reporter may be stopped)")
}

// checkRotation handles a path that names another file than the followed
// one (rename-and-create rotation). The followed file is finished when the
// writer has moved on: when the file at the path has data, or when files
// were rotated after it. Until then the writer may still append to it.
func (t *tail) checkRotation(ctx context.Context) {
	fi, err := os.Stat(t.f.opts.Path)
	if err != nil || sameFile(fi, t.cur.dev, t.cur.ino) {
		return
	}
	pathDev, pathIno := fileID(fi)
	var newer []pendingFile
	after, list := t.rotatedAfter(t.cur)
	t.listing = list
	for _, rf := range after {
		if rf.dev != pathDev || rf.ino != pathIno {
			newer = append(newer, pendingFile{rf: rf})
		}
	}
	if fi.Size() == 0 && len(newer) == 0 {
		return
	}
	t.f.log.Info().Str("file", t.cur.name).Uint64("inode", t.cur.ino).Int64("offset", t.cur.offset).Msg("file was rotated; finishing it")
	if !t.drain(ctx, t.cur) {
		return
	}
	t.endPartial(t.cur)
	t.markDone(t.cur)
	old := t.cur
	old.close()
	t.cur, t.reading = nil, nil
	t.noteBefore(list)
	if t.finishChain(ctx, newer) && t.cur == nil {
		t.start(ctx)
	}
}

// copyTruncated handles a followed file that was truncated (logrotate's
// copytruncate): the lines after the read position are in the copy, which
// is found by its first bytes and read, with any file rotated after it;
// then the file is read again from its start.
func (t *tail) copyTruncated(ctx context.Context) {
	f := t.cur
	t.f.log.Info().Str("file", f.name).Int64("offset", f.offset).Msg("file was truncated (copytruncate); reading the lines before the cut from its copy")
	list := t.rotatedFiles()
	chain, found := chainFrom(list, f.identity(), f.offset, t.lastPoll)
	if !found {
		t.lost(f.name, f.size-f.offset, f.offset, errors.New("no rotated copy begins with the file's first bytes"))
	}
	t.reading = nil
	if t.known != nil {
		// A copy made just before the file was last read from its start
		// is older than the one found: read it first.
		missed := slices.DeleteFunc(t.unknown(list, f, nil), func(p pendingFile) bool {
			return slices.ContainsFunc(chain, func(c pendingFile) bool { return c.rf.path == p.rf.path })
		})
		if !t.readMissed(ctx, missed) {
			return
		}
		t.known = nil
	}
	for _, p := range chain {
		if !t.finish(ctx, p) {
			return
		}
	}
	if err := f.rewind(t.f.opts.MaxLine); err != nil {
		t.readFailed(f, err)
		return
	}
	// A copy made while the chain was read is not in list: the next poll
	// finds it (missedCopies).
	t.reading = f
	t.lines.lineNo = 0
	t.remember(list)
	t.save(true)
	t.drain(ctx, f)
}

// remember notes the rotated files present when a file is (again) read
// from its start, so that a copy made just before, or before its first
// bytes could be read, is still recognised as new at the next poll. list
// is a fresh listing, or nil to list now.
func (t *tail) remember(list []rotatedFile) {
	t.known = nil
	if t.cur == nil || t.cur.gz {
		return
	}
	if list == nil {
		list = t.rotatedFiles()
	}
	t.known = make(map[string]bool, len(list))
	for _, rf := range list {
		t.known[string(rf.head)] = true
	}
	t.knownMTime = t.cur.mtime
}

// unknown returns the files of list not known when the followed file was
// last read from its start, leaving out copies of f itself: by its inode or
// first bytes, or, while nothing of it was read, by head, its first bytes
// read without moving.
func (t *tail) unknown(list []rotatedFile, f *follow, head []byte) []pendingFile {
	var out []pendingFile
	for _, rf := range list {
		switch {
		case t.known[string(rf.head)], !rf.gz && rf.dev == f.dev && rf.ino == f.ino,
			samePrefix(rf.head, f.head), samePrefix(rf.head, head):
		default:
			out = append(out, pendingFile{rf: rf})
		}
	}
	return out
}

// readMissed reads files found by unknown.
func (t *tail) readMissed(ctx context.Context, missed []pendingFile) bool {
	prev := t.reading
	for _, p := range missed {
		t.f.log.Info().Str("file", p.rf.path).Msg("a copy was made of the file before its lines could be read")
		if !t.finish(ctx, p) {
			return false
		}
	}
	t.reading = prev
	return true
}

// missedCopies reads the copies of the followed file that logrotate made
// before anything of the file could be told from them: while it was still
// empty, or just before it was read again from its start. It looks once
// after the file is (again) read from its start, and for as long as
// nothing of it has been read. It returns false when ctx ended first.
func (t *tail) missedCopies(ctx context.Context) bool {
	f := t.cur
	if t.known == nil {
		return true
	}
	if len(f.head) == 0 && f.size == 0 && f.mtime.Equal(t.knownMTime) {
		return true // still empty and untouched
	}
	if fi, err := os.Stat(t.f.opts.Path); err != nil || !sameFile(fi, f.dev, f.ino) {
		// Renamed (create): the files rotated after it may still be
		// written to; checkRotation finishes them in order.
		return true
	}
	// A copy of the followed file itself (its .gz, once it was renamed)
	// is told by the file's own first bytes.
	peek := make([]byte, fpMax)
	n, _ := f.fd.ReadAt(peek, 0)
	list := t.rotatedFiles()
	if !t.readMissed(ctx, t.unknown(list, f, peek[:n])) {
		return false
	}
	t.known = nil
	if len(f.head) == 0 {
		t.remember(list)
	}
	return true
}

// stop ends a Run: it saves the position and logs skipped lines not yet
// reported.
func (t *tail) stop() {
	t.lines.bad.flush(time.Now())
	t.save(true)
	if t.cur != nil {
		t.cur.close()
	}
}
