package spool

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sync"
)

// Spool is an open spool directory. Its methods may be called from several
// goroutines.
type Spool struct {
	dir  string
	opt  Options
	dirf *os.File // the directory, for fsync

	trimMu sync.Mutex // serializes Trim, and Close against it
	syncMu sync.Mutex // serializes syncOnce, the only closer of files

	mu        sync.Mutex
	closed    bool
	segs      []*segment    // in sequence order; the last one is active if active != nil
	active    *os.File      // the last segment, open for appending; nil until the next Append
	retired   []*os.File    // no longer appended to, to be fsynced and closed
	dirDirty  bool          // a segment was created since the last directory fsync
	nextSeq   uint64        // sequence number of the next record
	watermark uint64        // highest trimmed sequence number
	bytes     int64         // size of all segment files
	done      uint64        // highest sequence number covered by a finished sync attempt
	failures  []syncFailure // failed sync attempts, for WaitSynced
	syncedCh  chan struct{} // closed and replaced after each sync attempt
	buf       []byte        // encoding buffer for Append
	stats     Stats         // counters; gauges are filled in by Stats

	kick     chan struct{} // asks the sync loop to run now
	stop     chan struct{} // closed by Close to end the sync loop
	loopDone chan struct{} // closed when the sync loop has ended
}

// Stats are counters and gauges for metrics and tests.
type Stats struct {
	Segments     int    // segment files
	Bytes        int64  // size of all segment files
	Watermark    uint64 // highest trimmed sequence number
	LastSeq      uint64 // highest sequence number handed out, 0 if none
	SyncedSeq    uint64 // highest sequence number covered by a finished fsync attempt
	Appends      uint64 // records appended since Open
	Full         uint64 // appends refused with ErrFull since Open
	Syncs        uint64 // successful group commits since Open
	SyncErrors   uint64 // failed group commits since Open
	Corrupt      int    // damaged regions skipped since Open
	CorruptBytes int64  // bytes in those regions
}

// Open opens the spool in o.Dir, creating it if needed, drops a damaged
// tail of the last segment, deletes segments that are wholly trimmed, and
// starts the group commit goroutine. Call Replay before the first Append to
// get back the records not trimmed yet, and Close when done.
func Open(o Options) (*Spool, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := makeDir(o.Dir); err != nil {
		return nil, fmt.Errorf("open spool: %w", err)
	}
	s := &Spool{
		dir:      o.Dir,
		opt:      o,
		syncedCh: make(chan struct{}),
		kick:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		loopDone: make(chan struct{}),
	}
	if err := s.load(); err != nil {
		s.closeFiles()
		return nil, fmt.Errorf("open spool %s: %w", o.Dir, err)
	}
	go s.syncLoop()
	return s, nil
}

// load reads the directory's state into s.
func (s *Spool) load() error {
	var err error
	if s.dirf, err = os.Open(s.dir); err != nil {
		return err
	}
	_ = os.Remove(filepath.Join(s.dir, watermarkTemp)) // left by a crash during Trim
	if s.segs, err = listSegments(s.dir); err != nil {
		return err
	}
	s.watermark, err = readWatermark(s.dir)
	if errors.Is(err, errBadWatermark) {
		// Replaying trimmed alerts again is better than losing any.
		s.stats.Corrupt++
		s.opt.Logger.Warn().Str("dir", s.dir).Msg("spool watermark file is damaged; replaying every segment")
	} else if err != nil {
		return err
	}
	s.nextSeq = max(s.watermark+1, 1)
	for _, g := range s.segs {
		s.bytes += g.size
	}
	if len(s.segs) > 0 {
		if err := s.openLast(); err != nil {
			return err
		}
	}
	s.done = s.nextSeq - 1
	for _, p := range s.dropTrimmed(s.watermark, false) {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// openLast scans the last segment, truncates a damaged tail, and keeps it
// open for appending.
func (s *Spool) openLast() error {
	g := s.segs[len(s.segs)-1]
	path := filepath.Join(s.dir, segName(g.first))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND, fileMode)
	if err != nil {
		return err
	}
	s.active = f
	res, err := scan(io.NewSectionReader(f, 0, g.size), g.size, g.first, math.MaxUint64, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if res.damaged {
		s.stats.Corrupt++
		s.stats.CorruptBytes += g.size - res.end
		s.opt.Logger.Warn().Str("segment", path).Int64("offset", res.end).Int64("bytes", g.size-res.end).
			Msg("spool segment has a damaged tail; dropping it")
		if err := f.Truncate(res.end); err != nil {
			return err
		}
		if err := f.Sync(); err != nil {
			return err
		}
		s.bytes -= g.size - res.end
		g.size = res.end
	}
	s.nextSeq = max(s.nextSeq, g.first, res.last+1)
	return nil
}

// makeDir creates dir with mode 0750 if it does not exist.
func makeDir(dir string) error {
	fi, err := os.Stat(dir)
	if err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", dir)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return err
	}
	if err := os.Chmod(dir, dirMode); err != nil {
		return err
	}
	parent, err := os.Open(filepath.Dir(dir))
	if err != nil {
		return err
	}
	defer parent.Close()
	return parent.Sync()
}

// Close stops the group commit goroutine, fsyncs what was appended, and
// closes the files. It returns the error of that last fsync.
func (s *Spool) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	<-s.loopDone
	err := s.syncOnce()
	s.trimMu.Lock()
	defer s.trimMu.Unlock()
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeFiles()
	if err != nil {
		return fmt.Errorf("close spool: %w", err)
	}
	return nil
}

// closeFiles closes every open file.
func (s *Spool) closeFiles() {
	for _, f := range s.retired {
		_ = f.Close()
	}
	s.retired = nil
	if s.active != nil {
		_ = s.active.Close()
		s.active = nil
	}
	if s.dirf != nil {
		_ = s.dirf.Close()
		s.dirf = nil
	}
}

// Bytes returns the size of all segment files: the untrimmed records, plus
// trimmed ones that share a segment with an untrimmed one.
func (s *Spool) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes
}

// Stats returns a snapshot of the spool's counters.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Segments = len(s.segs)
	st.Bytes = s.bytes
	st.Watermark = s.watermark
	st.LastSeq = s.nextSeq - 1
	st.SyncedSeq = s.done
	return st
}
