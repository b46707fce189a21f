package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// readWindow is how much of a segment a Reader reads at a time.
const readWindow = 64 << 10

// Reader reads the records of a spool in sequence order while they are
// being appended: the records from before the last stop first, then each
// new one as soon as Append has returned. It is how the daemon's writer
// takes alerts once they are more than its in-memory queue holds. A
// damaged region ends its segment's records, as in Replay. A Reader is not
// safe for concurrent use; the Spool may be appended to and trimmed while
// it reads, but records must not be trimmed before the Reader has read
// them.
type Reader struct {
	s      *Spool
	next   uint64   // records below it are skipped
	seg    *segment // the segment being read; nil: look it up from next
	f      *os.File
	off    int64  // offset of the next record in seg
	buf    []byte // a window of the segment file
	bufOff int64  // file offset of buf[0]
}

// NewReader returns a Reader that starts at the first record whose sequence
// number is from or more, and above the watermark.
func (s *Spool) NewReader(from uint64) *Reader {
	s.mu.Lock()
	defer s.mu.Unlock()
	return &Reader{s: s, next: max(from, s.watermark+1)}
}

// Seek moves r to the record at p, as returned by AppendPos, so that the
// records before it are not read.
func (r *Reader) Seek(p Pos) {
	r.next = p.Seq
	r.s.mu.Lock()
	var g *segment
	for _, s := range r.s.segs {
		if s.first == p.seg {
			g = s
			break
		}
	}
	r.s.mu.Unlock()
	if g == nil {
		r.switchTo(nil)
		return
	}
	if g != r.seg {
		r.switchTo(g)
	}
	r.off = p.off
}

// Next returns the next record: its sequence number and payload, which
// stays valid until the next call. It returns io.EOF when every record
// appended so far has been read.
func (r *Reader) Next() (uint64, []byte, error) {
	for {
		if r.seg == nil && !r.find() {
			return 0, nil, io.EOF
		}
		if r.f == nil {
			f, err := os.Open(filepath.Join(r.s.dir, segName(r.seg.first)))
			if errors.Is(err, fs.ErrNotExist) {
				// Trimmed: every record in it is below the watermark.
				if !r.advance() {
					return 0, nil, io.EOF
				}
				continue
			}
			if err != nil {
				return 0, nil, fmt.Errorf("spool read: %w", err)
			}
			r.f = f
		}
		r.s.mu.Lock()
		limit := r.seg.size
		if r.seg.damaged {
			limit = min(limit, r.seg.goodEnd)
		}
		r.s.mu.Unlock()
		if r.off >= limit {
			if !r.advance() {
				return 0, nil, io.EOF
			}
			continue
		}
		seq, payload, ok, err := r.record(limit)
		if err != nil {
			return 0, nil, err
		}
		if !ok {
			r.damaged()
			if !r.advance() {
				return 0, nil, io.EOF
			}
			continue
		}
		if seq < r.next {
			continue
		}
		r.next = seq + 1
		return seq, payload, nil
	}
}

// record reads the record at r.off, below limit, and moves past it. ok is
// false when the bytes there are not a good record.
func (r *Reader) record(limit int64) (seq uint64, payload []byte, ok bool, err error) {
	if limit-r.off < headerSize {
		return 0, nil, false, nil
	}
	h, err := r.window(r.off, headerSize, limit)
	if err != nil {
		return 0, nil, false, err
	}
	n := int64(binary.LittleEndian.Uint32(h[0:4]))
	seq = binary.LittleEndian.Uint64(h[8:16])
	sum := binary.LittleEndian.Uint32(h[4:8])
	if n > MaxPayload || n > limit-r.off-headerSize || seq < r.seg.first {
		return 0, nil, false, nil
	}
	rec, err := r.window(r.off, headerSize+int(n), limit)
	if err != nil {
		return 0, nil, false, err
	}
	if checksum(rec[:headerSize], rec[headerSize:]) != sum {
		return 0, nil, false, nil
	}
	r.off += headerSize + n
	return seq, rec[headerSize:], true, nil
}

// window returns n bytes of the segment at off, reading a window of up to
// limit.
func (r *Reader) window(off int64, n int, limit int64) ([]byte, error) {
	if off >= r.bufOff && off+int64(n) <= r.bufOff+int64(len(r.buf)) {
		return r.buf[off-r.bufOff : off-r.bufOff+int64(n)], nil
	}
	size := int(min(max(int64(readWindow), int64(n)), limit-off))
	if cap(r.buf) < size || cap(r.buf) > 4*readWindow && size <= readWindow {
		r.buf = make([]byte, max(size, readWindow))
	}
	r.buf = r.buf[:size]
	got, err := r.f.ReadAt(r.buf, off)
	if got < n {
		r.buf, r.bufOff = r.buf[:0], 0
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("spool read %s at %d: %w", r.f.Name(), off, err)
	}
	r.buf, r.bufOff = r.buf[:got], off
	return r.buf[:n], nil
}

// find looks up the segment that holds r.next, or the first one after it.
func (r *Reader) find() bool {
	r.s.mu.Lock()
	segs := r.s.segs
	i := sort.Search(len(segs), func(i int) bool { return segs[i].first > r.next }) - 1
	var g *segment
	if i < 0 && len(segs) > 0 {
		i = 0
	}
	if i >= 0 {
		g = segs[i]
	}
	r.s.mu.Unlock()
	if g == nil {
		return false
	}
	r.switchTo(g)
	return true
}

// advance moves to the segment after the current one, if there is one.
func (r *Reader) advance() bool {
	r.s.mu.Lock()
	var g *segment
	for _, s := range r.s.segs {
		if r.seg == nil || s.first > r.seg.first {
			g = s
			break
		}
	}
	r.s.mu.Unlock()
	if g == nil {
		return false
	}
	r.switchTo(g)
	return true
}

func (r *Reader) switchTo(g *segment) {
	if r.f != nil {
		_ = r.f.Close()
		r.f = nil
	}
	r.seg, r.off, r.buf, r.bufOff = g, 0, r.buf[:0], 0
}

// damaged records that the current segment is damaged from r.off on.
func (r *Reader) damaged() {
	s := r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	g := r.seg
	if g.damaged {
		return
	}
	g.damaged, g.goodEnd = true, r.off
	s.stats.Corrupt++
	s.stats.CorruptBytes += g.size - r.off
	s.opt.Logger.Warn().Str("segment", filepath.Join(s.dir, segName(g.first))).Int64("offset", r.off).
		Int64("bytes", g.size-r.off).Msg("spool segment is damaged; skipping the rest of it")
}

// Close releases the file r has open.
func (r *Reader) Close() error {
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}
