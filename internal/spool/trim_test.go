package spool

import (
	"os"
	"testing"
)

func TestTrim(t *testing.T) {
	// Four records per segment: seqs 1-4, 5-8, 9-12, 13-16, 17-20.
	const n = 20
	tests := []struct {
		name     string
		trims    []uint64
		wantFrom int // first record still replayed (index, seq-1)
		wantSegs int
	}{
		{"nothing", nil, 0, 5},
		{"zero", []uint64{0}, 0, 5},
		{"segment boundary", []uint64{8}, 8, 3},
		{"inside a segment", []uint64{10}, 10, 3},
		{"first record only", []uint64{1}, 1, 5},
		{"one short of all", []uint64{19}, 19, 1},
		{"everything", []uint64{20}, 20, 0},
		{"beyond the last record", []uint64{1000}, 20, 0},
		{"backwards does nothing", []uint64{10, 5}, 10, 3},
		{"in steps", []uint64{3, 6, 13}, 13, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			o := Options{Dir: dir, SegmentSize: 4 * recSize}
			s := open(t, o)
			appendN(t, s, 0, n)
			for _, up := range tt.trims {
				if err := s.Trim(up); err != nil {
					t.Fatalf("Trim(%d): %v", up, err)
				}
			}
			checkRecs(t, replayAll(t, s), want(tt.wantFrom, n))
			if got := len(segFiles(t, dir)); got != tt.wantSegs {
				t.Errorf("%d segment files %v, want %d", got, segFiles(t, dir), tt.wantSegs)
			}
			if got, w := s.Bytes(), int64(tt.wantSegs)*4*recSize; got != w {
				t.Errorf("Bytes = %d, want %d", got, w)
			}
			mustClose(t, s)

			// The watermark survives; seqs go on from the last one, even
			// when every segment was deleted.
			s = open(t, o)
			checkRecs(t, replayAll(t, s), want(tt.wantFrom, n))
			seq, err := s.Append([]byte(payloadOf(n)))
			if err != nil || seq != n+1 {
				t.Fatalf("Append after reopen = %d, %v; want seq %d", seq, err, n+1)
			}
			checkRecs(t, replayAll(t, s), want(tt.wantFrom, n+1))
		})
	}
}

func TestTrimDeletesActiveSegmentThenAppends(t *testing.T) {
	dir := t.TempDir()
	s := open(t, Options{Dir: dir})
	appendN(t, s, 0, 3)
	if err := s.Trim(3); err != nil {
		t.Fatal(err)
	}
	if files := segFiles(t, dir); len(files) != 0 || s.Bytes() != 0 {
		t.Fatalf("after trimming everything: files %v, Bytes %d", files, s.Bytes())
	}
	appendN(t, s, 3, 5)
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	checkRecs(t, replayAll(t, s), want(3, 5))
	if files := segFiles(t, dir); len(files) != 1 || files[0] != segName(4) {
		t.Fatalf("segment files %v, want [%s]", files, segName(4))
	}
	mustClose(t, s)
	s = open(t, Options{Dir: dir})
	checkRecs(t, replayAll(t, s), want(3, 5))
}

func TestOpenDeletesTrimmedSegments(t *testing.T) {
	// A crash between writing the watermark and deleting segments leaves
	// trimmed segments behind; Open deletes them.
	dir := t.TempDir()
	o := Options{Dir: dir, SegmentSize: 2 * recSize}
	s := open(t, o)
	appendN(t, s, 0, 6)
	mustClose(t, s)
	d := openDir(t, dir)
	if err := writeWatermark(d, 4); err != nil {
		t.Fatal(err)
	}
	s = open(t, o)
	checkRecs(t, replayAll(t, s), want(4, 6))
	if files := segFiles(t, dir); len(files) != 1 {
		t.Errorf("segment files %v, want only the last", files)
	}
	if st := s.Stats(); st.Watermark != 4 || st.Segments != 1 {
		t.Errorf("Stats = %+v", st)
	}
}

// openDir opens dir for writeWatermark and closes it at cleanup.
func openDir(t *testing.T, dir string) *os.File {
	t.Helper()
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}
