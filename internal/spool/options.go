package spool

import (
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"
)

// Defaults for Options.
const (
	DefaultSegmentSize = 4 << 20
	DefaultMaxBytes    = 256 << 20
	DefaultSyncEvery   = 50 * time.Millisecond
)

// MaxPayload is the largest payload Append accepts. Replay treats a larger
// length field as damage.
const MaxPayload = 8 << 20

const (
	dirMode  = 0o750
	fileMode = 0o640
)

// Errors returned by Append and the other methods; match with errors.Is.
var (
	// ErrFull means the spool holds MaxBytes of untrimmed records: the
	// caller should push back on its inputs until Trim frees space.
	ErrFull = errors.New("spool is full")
	// ErrTooLarge means the payload is longer than MaxPayload.
	ErrTooLarge = errors.New("spool record too large")
	// ErrClosed means Close was called.
	ErrClosed = errors.New("spool is closed")
)

// Options configure Open.
type Options struct {
	// Dir is the spool directory, created with mode 0750 if missing.
	Dir string
	// SegmentSize is the size at which a new segment file is started
	// (default 4 MiB). A record larger than it gets a segment of its own.
	SegmentSize int64
	// MaxBytes bounds the size of all segment files (default 256 MiB);
	// Append returns ErrFull rather than go beyond it.
	MaxBytes int64
	// SyncEvery is the group commit interval (default 50 ms): appended
	// records are fsynced at most this long after Append returned.
	SyncEvery time.Duration
	// Logger is told of state changes: damaged data skipped, a failed
	// fsync. The zero value logs nothing.
	Logger zerolog.Logger
}

// withDefaults fills zero fields and validates the others.
func (o Options) withDefaults() (Options, error) {
	switch {
	case o.Dir == "":
		return o, errors.New("spool: no directory")
	case o.SegmentSize < 0:
		return o, fmt.Errorf("spool: negative segment size %d", o.SegmentSize)
	case o.MaxBytes < 0:
		return o, fmt.Errorf("spool: negative max bytes %d", o.MaxBytes)
	case o.SyncEvery < 0:
		return o, fmt.Errorf("spool: negative sync interval %v", o.SyncEvery)
	}
	if o.SegmentSize == 0 {
		o.SegmentSize = DefaultSegmentSize
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.SyncEvery == 0 {
		o.SyncEvery = DefaultSyncEvery
	}
	return o, nil
}
