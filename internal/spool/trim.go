package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Trim records that every record up to and including upTo is no longer
// needed (its alert is durably in a written report): Replay will skip them
// and whole segments of them are deleted. The watermark is written durably
// before any segment is deleted. Trimming beyond the last appended record
// trims up to it; trimming below the watermark does nothing.
//
// If the watermark cannot be written (on a full disk, say), Trim still
// deletes the segments before the last one whose records are all trimmed,
// to make room, and returns the error; calling it again retries the write.
// After a restart, the records in the segments left may be replayed again.
func (s *Spool) Trim(upTo uint64) error {
	s.trimMu.Lock()
	defer s.trimMu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	upTo = min(upTo, s.nextSeq-1)
	if upTo <= s.watermark {
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()

	werr := writeWatermark(s.dirf, upTo)

	s.mu.Lock()
	if werr == nil {
		s.watermark = upTo
		s.failures = pruneFailures(s.failures, upTo)
	}
	// Without a durable watermark the last segment is kept: its name keeps
	// sequence numbers increasing after a restart.
	paths := s.dropTrimmed(upTo, werr != nil)
	s.mu.Unlock()

	errs := []error{werr}
	for _, p := range paths {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("spool trim: %w", err)
	}
	return nil
}

// dropTrimmed forgets the segments whose records are all at or below upTo
// and returns their paths for the caller to delete. An empty active
// segment is kept, and the last segment if keepLast. s.mu is held.
func (s *Spool) dropTrimmed(upTo uint64, keepLast bool) []string {
	var paths []string
	keep := 0
	for i, g := range s.segs {
		next := s.nextSeq
		if i+1 < len(s.segs) {
			next = s.segs[i+1].first
		}
		last := i == len(s.segs)-1
		if next-1 > upTo || (last && (keepLast || s.active != nil && g.size == 0)) {
			break
		}
		if last && s.active != nil {
			s.retire()
		}
		paths = append(paths, filepath.Join(s.dir, segName(g.first)))
		s.bytes -= g.size
		keep = i + 1
	}
	s.segs = s.segs[keep:]
	return paths
}

// pruneFailures drops the failed ranges wholly at or below upTo.
func pruneFailures(fs []syncFailure, upTo uint64) []syncFailure {
	kept := fs[:0]
	for _, f := range fs {
		if f.hi > upTo {
			kept = append(kept, f)
		}
	}
	return kept
}
