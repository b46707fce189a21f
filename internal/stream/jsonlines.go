package stream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/falco-reporter/falco-reporter/internal/event"
)

// Reasons passed to OnDrop by the HTTP and file inputs and by Ingest.
const (
	DropHTTPOverload  = "http_overload"  // the pipeline was full: answered 503
	DropHTTPRejected  = "http_rejected"  // a POST that was not a JSON alert: answered 400, 413 or 415
	DropHTTPForbidden = "http_forbidden" // a POST from a user not allowed: answered 403
	DropNotAlert      = "not_alert"      // a line that is not a Falco JSON alert
	DropLineTooLong   = "line_too_long"  // a line longer than the line limit
	DropTooLarge      = "too_large"      // a gRPC message larger than event.MaxAlertBytes
	DropFileUnread    = "file_unread"    // a rotated file with unread lines was gone (once per file)
)

// DefaultMaxLine is the longest line of JSON the file input and Ingest
// read: the largest alert every input accepts.
const DefaultMaxLine = event.MaxAlertBytes

// errLineTooLong marks a line that was longer than the limit and skipped.
var errLineTooLong = errors.New("line too long")

// lineScanner splits a reader into complete lines. A partial last line stays
// buffered until its newline arrives, so a file that is still being written
// can be read again after io.EOF. Lines longer than max are discarded up to
// their newline and reported as errLineTooLong.
type lineScanner struct {
	r          io.Reader
	max        int
	buf        []byte
	start, end int   // buf[start:end] is read but not yet returned
	skipping   bool  // inside an overlong line
	skipped    int64 // bytes of the overlong line discarded so far
	total      int64 // bytes read from r
	err        error // read error to return once the buffer is empty
}

func newLineScanner(r io.Reader, max int) *lineScanner {
	if max <= 0 {
		max = DefaultMaxLine
	}
	return &lineScanner{r: r, max: max, buf: make([]byte, min(max, 64<<10))}
}

// next returns the next complete line without its newline and the number of
// bytes it takes in the input, newline included. The line is valid until the
// next call. An overlong line returns errLineTooLong with its size. When no
// complete line is buffered it returns the reader's error, usually io.EOF.
func (s *lineScanner) next() ([]byte, int64, error) {
	for {
		if i := bytes.IndexByte(s.buf[s.start:s.end], '\n'); i >= 0 {
			line := s.buf[s.start : s.start+i]
			s.start += i + 1
			if s.skipping {
				size := s.skipped + int64(i) + 1
				s.skipping, s.skipped = false, 0
				return nil, size, errLineTooLong
			}
			return line, int64(i) + 1, nil
		}
		if s.skipping || s.end-s.start > s.max {
			s.skipping = true
			s.skipped += int64(s.end - s.start)
			s.start, s.end = 0, 0
		}
		if s.err != nil {
			err := s.err
			s.err = nil
			return nil, 0, err
		}
		s.fill()
	}
}

// fill reads once from r into the free end of the buffer.
func (s *lineScanner) fill() {
	if s.start > 0 {
		s.end = copy(s.buf, s.buf[s.start:s.end])
		s.start = 0
	}
	if s.end == len(s.buf) {
		grown := make([]byte, min(2*len(s.buf), s.max+1))
		copy(grown, s.buf[:s.end])
		s.buf = grown
	}
	n, err := s.r.Read(s.buf[s.end:])
	s.end += n
	s.total += int64(n)
	if err == nil && n == 0 {
		err = io.ErrNoProgress
	}
	if n == 0 || err != io.EOF {
		s.err = err
	}
}

// rest returns the buffered partial line at the end of the input and
// whether it was too long, and empties the buffer.
func (s *lineScanner) rest() ([]byte, int64, bool) {
	line := s.buf[s.start:s.end]
	size := int64(len(line)) + s.skipped
	tooLong := s.skipping
	s.start, s.end, s.skipping, s.skipped = 0, 0, false, 0
	return line, size, tooLong
}

// pending returns the number of bytes read but not yet returned as a line.
func (s *lineScanner) pending() int64 {
	return int64(s.end-s.start) + s.skipped
}

// IngestStats counts what one pass over a file of JSON alerts found.
type IngestStats struct {
	Lines   int // non-blank lines read
	Alerts  int // alerts delivered to the sink
	Skipped int // lines that were not alerts or were too long
}

// lineSink parses lines as JSON alerts and delivers them with Put, counting
// and logging the lines it skips.
type lineSink struct {
	sink   Sink
	onDrop func(reason string)
	bad    badLines
	stats  IngestStats
	lineNo int64 // number of the last line handled, from 1
}

func newLineSink(sink Sink, log zerolog.Logger, onDrop func(string)) *lineSink {
	if onDrop == nil {
		onDrop = func(string) {}
	}
	return &lineSink{sink: sink, onDrop: onDrop, bad: badLines{log: log, every: time.Minute}}
}

// handle delivers one line that started at offset. readErr is
// errLineTooLong for an overlong line. It returns an error only when Put
// does, that is when ctx ended and the line was not delivered.
func (l *lineSink) handle(ctx context.Context, line []byte, readErr error, offset int64) error {
	no := l.lineNo + 1
	if readErr == nil && len(bytes.TrimSpace(line)) == 0 {
		l.lineNo = no
		return nil
	}
	reason, err := DropLineTooLong, readErr
	var a event.Alert
	if err == nil {
		reason = DropNotAlert
		a, err = event.ParseJSON(line)
	}
	if err == nil {
		if err := l.sink.Put(ctx, a); err != nil {
			return fmt.Errorf("deliver line %d: %w", no, err)
		}
		l.stats.Alerts++
	} else {
		l.stats.Skipped++
		l.onDrop(reason)
		l.bad.add(time.Now(), no, offset, err)
	}
	l.lineNo = no
	l.stats.Lines++
	return nil
}

// badLines logs skipped lines: the first at once with its number, then a
// count at most once per interval, so a wrong file cannot flood the journal.
type badLines struct {
	log     zerolog.Logger
	every   time.Duration
	total   int64
	pending int64
	last    time.Time
	lastNo  int64
	lastErr error
}

func (b *badLines) add(now time.Time, lineNo, offset int64, err error) {
	b.total++
	if b.total == 1 {
		b.last = now
		b.log.Warn().Int64("line", lineNo).Int64("offset", offset).Err(err).
			Msg("skipping a line that is not a Falco JSON alert; further ones are counted")
		return
	}
	b.pending++
	b.lastNo, b.lastErr = lineNo, err
	if now.Sub(b.last) >= b.every {
		b.flush(now)
	}
}

// flush logs the lines skipped since the last log entry, if any.
func (b *badLines) flush(now time.Time) {
	if b.pending == 0 {
		return
	}
	b.log.Warn().Int64("skipped", b.pending).Int64("skipped_total", b.total).
		Int64("last_line", b.lastNo).AnErr("last_error", b.lastErr).
		Msg("skipped lines that are not Falco JSON alerts")
	b.pending = 0
	b.last = now
}

// logEvery lets one log entry through per interval and counts the others.
// It is safe for concurrent use.
type logEvery struct {
	every      time.Duration
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// allow reports whether to log now and how many entries were held back
// since the last one that was allowed.
func (l *logEvery) allow(now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.Sub(l.last) < l.every {
		l.suppressed++
		return false, 0
	}
	n := l.suppressed
	l.last, l.suppressed = now, 0
	return true, n
}

// IngestOptions configures Ingest. The zero value is usable.
type IngestOptions struct {
	Logger  zerolog.Logger
	OnDrop  func(reason string) // told of every skipped line; may be nil
	MaxLine int                 // longest line read; DefaultMaxLine if 0
}

// Ingest delivers every JSON alert of r, one per line as Falco's
// file_output writes them, to sink with Put, then returns. A last line
// without a newline is read too. Blank lines are ignored; lines that are not
// alerts are counted, logged in summary and skipped. It returns an error
// when reading fails or ctx ends; the stats then count what was done.
func Ingest(ctx context.Context, r io.Reader, sink Sink, opts IngestOptions) (IngestStats, error) {
	sc := newLineScanner(r, opts.MaxLine)
	ls := newLineSink(sink, opts.Logger, opts.OnDrop)
	defer func() { ls.bad.flush(time.Now()) }()
	var offset int64
	for {
		line, size, err := sc.next()
		if err == io.EOF {
			line, size, tooLong := sc.rest()
			if size == 0 {
				return ls.stats, nil
			}
			var readErr error
			if tooLong {
				readErr = errLineTooLong
			}
			err := ls.handle(ctx, line, readErr, offset)
			return ls.stats, err
		}
		if err != nil && !errors.Is(err, errLineTooLong) {
			return ls.stats, fmt.Errorf("read line %d: %w", ls.lineNo+1, err)
		}
		if err := ls.handle(ctx, line, err, offset); err != nil {
			return ls.stats, err
		}
		offset += size
	}
}
