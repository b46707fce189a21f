package spool

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Replay calls fn, in order, for every record above the watermark: the
// records appended and not trimmed yet, across restarts. The app calls it
// after Open and before its inputs start. Payloads are fn's to keep. A
// damaged region ends its segment's records and is counted in
// Stats.Corrupt; Replay goes on with the next segment. It stops at fn's
// first error and returns an error wrapping it.
func (s *Spool) Replay(fn func(seq uint64, payload []byte) error) error {
	type part struct {
		g     *segment
		limit int64
		next  uint64
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	wm := s.watermark
	parts := make([]part, 0, len(s.segs))
	for i, g := range s.segs {
		p := part{g: g, limit: g.size, next: s.nextSeq}
		if i+1 < len(s.segs) {
			p.next = s.segs[i+1].first
		}
		if g.damaged {
			p.limit = g.goodEnd
		}
		if p.next-1 > wm {
			parts = append(parts, p)
		}
	}
	s.mu.Unlock()

	for _, p := range parts {
		if err := s.replaySegment(p.g, p.limit, p.next, wm, fn); err != nil {
			return err
		}
	}
	return nil
}

// replaySegment replays the first limit bytes of segment g.
func (s *Spool) replaySegment(g *segment, limit int64, next, wm uint64, fn func(uint64, []byte) error) error {
	path := filepath.Join(s.dir, segName(g.first))
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // trimmed meanwhile
	}
	if err != nil {
		return fmt.Errorf("spool replay: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(io.NewSectionReader(f, 0, limit), 64<<10)
	res, err := scan(r, limit, g.first, next, func(seq uint64, payload []byte) error {
		if seq <= wm {
			return nil
		}
		return fn(seq, payload)
	})
	if err != nil {
		return fmt.Errorf("spool replay %s: %w", path, err)
	}
	if res.damaged {
		s.mu.Lock()
		if !g.damaged {
			g.damaged = true
			g.goodEnd = res.end
			s.stats.Corrupt++
			s.stats.CorruptBytes += g.size - res.end
			s.opt.Logger.Warn().Str("segment", path).Int64("offset", res.end).Int64("bytes", g.size-res.end).
				Msg("spool segment is damaged; skipping the rest of it")
		}
		s.mu.Unlock()
	}
	return nil
}
