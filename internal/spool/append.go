package spool

import (
	"fmt"
)

// maxKeptBuf is the largest encoding buffer kept between appends.
const maxKeptBuf = 1 << 20

// Append writes payload as a new record and returns its sequence number.
// When it returns nil the record is in the operating system's hands and
// survives the death of the process; it is fsynced within
// Options.SyncEvery, or by WaitSynced. Sequence numbers increase; they may
// skip a number after a failed write, and a number whose record was lost
// in a machine crash before its fsync may be handed out again.
//
// Append returns ErrFull when the record would take the spool beyond
// MaxBytes, ErrTooLarge for a payload over MaxPayload, and an error
// wrapping the system call error (such as ENOSPC) when the write fails.
func (s *Spool) Append(payload []byte) (uint64, error) {
	p, err := s.AppendPos(payload)
	return p.Seq, err
}

// Pos is where a record is: its sequence number and its place in the
// spool's files, for Reader.Seek.
type Pos struct {
	Seq uint64
	seg uint64 // first sequence number of its segment
	off int64  // offset in the segment
}

// AppendPos is Append, and also returns where the record went.
func (s *Spool) AppendPos(payload []byte) (Pos, error) {
	if len(payload) > MaxPayload {
		return Pos{}, fmt.Errorf("spool append: %d bytes: %w", len(payload), ErrTooLarge)
	}
	n := int64(headerSize + len(payload))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Pos{}, ErrClosed
	}
	if s.bytes+n > s.opt.MaxBytes {
		s.stats.Full++
		return Pos{}, ErrFull
	}
	g, err := s.segmentFor(n)
	if err != nil {
		return Pos{}, fmt.Errorf("spool append: %w", err)
	}
	seq := s.nextSeq
	s.buf = appendRecord(s.buf[:0], seq, payload)
	w, err := s.active.Write(s.buf)
	if cap(s.buf) > maxKeptBuf {
		s.buf = nil
	}
	if err != nil {
		s.undoWrite(g, int64(w))
		return Pos{}, fmt.Errorf("spool append: %w", err)
	}
	p := Pos{Seq: seq, seg: g.first, off: g.size}
	g.size += n
	s.bytes += n
	s.nextSeq++
	s.stats.Appends++
	return p, nil
}

// segmentFor returns the segment to append n bytes to, starting a new one
// when the active one is full or there is none. s.mu is held.
func (s *Spool) segmentFor(n int64) (*segment, error) {
	if s.active != nil {
		g := s.segs[len(s.segs)-1]
		if g.size == 0 || g.size+n <= s.opt.SegmentSize {
			return g, nil
		}
		s.retire()
	}
	f, err := createSegment(s.dir, s.nextSeq)
	if err != nil {
		return nil, err
	}
	g := &segment{first: s.nextSeq}
	s.segs = append(s.segs, g)
	s.active = f
	s.dirDirty = true
	return g, nil
}

// retire stops appending to the active segment; the group commit fsyncs
// and closes it. s.mu is held.
func (s *Spool) retire() {
	s.retired = append(s.retired, s.active)
	s.active = nil
}

// undoWrite removes the w bytes of a failed write from the end of segment
// g, so that no partial record is followed by good ones. If that fails too,
// the segment is retired with its damaged tail, and the sequence number is
// skipped so that the next segment gets a name of its own. s.mu is held.
func (s *Spool) undoWrite(g *segment, w int64) {
	if w == 0 {
		return
	}
	if err := s.active.Truncate(g.size); err == nil {
		return
	}
	g.size += w
	s.bytes += w
	s.retire()
	s.nextSeq++
}
