package spool

import (
	"errors"
	"testing"
)

func TestFull(t *testing.T) {
	tests := []struct {
		name    string
		segSize int64
		max     int64
		fits    int    // records appended before ErrFull
		trim    uint64 // then trimmed
		freed   int    // records that fit again after the trim
	}{
		{"one segment, trim all", 0, 10 * recSize, 10, 10, 10},
		{"not a multiple of a record", 0, 10*recSize + recSize/2, 10, 10, 10},
		{"segments, trim two", 3 * recSize, 9 * recSize, 9, 6, 6},
		{"trim inside a segment frees nothing", 3 * recSize, 9 * recSize, 9, 5, 3},
		{"trim nothing", 3 * recSize, 9 * recSize, 9, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t, Options{Dir: t.TempDir(), SegmentSize: tt.segSize, MaxBytes: tt.max})
			appendN(t, s, 0, tt.fits)
			if _, err := s.Append([]byte(payloadOf(tt.fits))); !errors.Is(err, ErrFull) {
				t.Fatalf("Append beyond MaxBytes = %v, want ErrFull", err)
			}
			if st := s.Stats(); st.Full != 1 || st.Bytes > tt.max {
				t.Errorf("Stats = %+v", st)
			}
			if err := s.Trim(tt.trim); err != nil {
				t.Fatal(err)
			}
			appendN(t, s, tt.fits, tt.fits+tt.freed)
			if _, err := s.Append([]byte(payloadOf(0))); !errors.Is(err, ErrFull) {
				t.Fatalf("Append after refilling = %v, want ErrFull", err)
			}
			checkRecs(t, replayAll(t, s), want(int(tt.trim), tt.fits+tt.freed))
		})
	}
}

func TestTooLarge(t *testing.T) {
	s := open(t, Options{Dir: t.TempDir()})
	if _, err := s.Append(make([]byte, MaxPayload+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Append of %d bytes = %v, want ErrTooLarge", MaxPayload+1, err)
	}
	big := make([]byte, MaxPayload)
	big[len(big)-1] = 'x'
	if _, err := s.Append(big); err != nil {
		t.Fatalf("Append of MaxPayload bytes: %v", err)
	}
	var n int
	if err := s.Replay(func(_ uint64, p []byte) error { n = len(p); return nil }); err != nil || n != MaxPayload {
		t.Fatalf("Replay = %v, payload of %d bytes", err, n)
	}
}
