package spool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// maxFailures bounds the failed sync ranges remembered for WaitSynced.
const maxFailures = 64

// syncFailure is a failed group commit: records lo..hi may not be durable.
type syncFailure struct {
	lo, hi uint64
	err    error
}

// syncLoop runs the group commit every SyncEvery, and sooner when a
// waiter asks for it, until Close.
func (s *Spool) syncLoop() {
	defer close(s.loopDone)
	t := time.NewTicker(s.opt.SyncEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		case <-s.kick:
		}
		if err := s.syncOnce(); err != nil {
			// Counted, and returned to the waiters; nobody else is told.
			s.opt.Logger.Error().Err(err).Msg("spool fsync failed; these records may be lost in a machine crash")
		}
	}
}

// syncOnce fsyncs every segment written since the last call, and the
// directory if a segment was created, then wakes the waiters. Appends go on
// meanwhile; the next call covers them.
func (s *Spool) syncOnce() error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()

	s.mu.Lock()
	lo, hi := s.done+1, s.nextSeq-1
	if hi < lo && len(s.retired) == 0 && !s.dirDirty {
		s.mu.Unlock()
		return nil
	}
	files := append([]*os.File(nil), s.retired...)
	retired := len(files)
	active := s.active
	if active != nil {
		files = append(files, active)
	}
	dirDirty := s.dirDirty
	s.dirDirty = false
	s.mu.Unlock()

	var errs []error
	for _, f := range files {
		if err := datasync(f); err != nil {
			errs = append(errs, fmt.Errorf("fsync %s: %w", f.Name(), err))
		}
	}
	if dirDirty && s.dirf != nil {
		if err := s.dirf.Sync(); err != nil {
			errs = append(errs, fmt.Errorf("fsync %s: %w", s.dir, err))
		}
	}
	err := errors.Join(errs...)
	if err != nil && lo <= hi {
		err = fmt.Errorf("records %d-%d: %w", lo, hi, err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range files[:retired] {
		_ = f.Close()
	}
	s.retired = s.retired[retired:]
	s.done = max(s.done, hi)
	if err != nil {
		s.stats.SyncErrors++
		if dirDirty {
			s.dirDirty = true
		}
		if lo <= hi {
			s.failures = append(s.failures, syncFailure{lo: lo, hi: hi, err: err})
			if len(s.failures) > maxFailures {
				s.failures = s.failures[1:]
			}
		}
		// After a failed fsync the kernel may have dropped the pages it
		// could not write, and reports it only once: new records go to a
		// new segment.
		if active != nil && s.active == active && s.segs[len(s.segs)-1].size > 0 {
			_ = active.Close()
			s.active = nil
		}
	} else {
		s.stats.Syncs++
	}
	close(s.syncedCh)
	s.syncedCh = make(chan struct{})
	return err
}

// datasync flushes the data of f, and the metadata needed to read it back.
func datasync(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			serr = unix.Fdatasync(int(fd))
			if serr != unix.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	return serr
}

// WaitSynced waits until the record seq has been fsynced, asking the group
// commit to run now rather than at its next tick. It returns an error
// wrapping the fsync error if the group commit that covered seq failed, and
// ctx's error if ctx ends first.
func (s *Spool) WaitSynced(ctx context.Context, seq uint64) error {
	for {
		s.mu.Lock()
		if seq <= s.done {
			err := s.failureFor(seq)
			s.mu.Unlock()
			return err
		}
		if seq >= s.nextSeq {
			next := s.nextSeq
			s.mu.Unlock()
			return fmt.Errorf("spool: wait for record %d: not appended yet (next is %d)", seq, next)
		}
		ch := s.syncedCh
		s.mu.Unlock()
		select {
		case s.kick <- struct{}{}:
		default:
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Sync fsyncs every record appended before the call and returns the error
// of the group commit that covered them.
func (s *Spool) Sync() error {
	s.mu.Lock()
	last := s.nextSeq - 1
	s.mu.Unlock()
	if err := s.WaitSynced(context.Background(), last); err != nil {
		return err
	}
	return nil
}

// failureFor returns the error of the failed group commit that covered
// seq, or nil. s.mu is held.
func (s *Spool) failureFor(seq uint64) error {
	for _, f := range s.failures {
		if f.lo <= seq && seq <= f.hi {
			return fmt.Errorf("spool sync: %w", f.err)
		}
	}
	return nil
}
