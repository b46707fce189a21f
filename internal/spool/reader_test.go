package spool

import (
	"errors"
	"io"
	"path/filepath"
	"testing"
)

// readAll returns every record r gives until io.EOF.
func readAll(t testing.TB, r *Reader) []rec {
	t.Helper()
	var got []rec
	for {
		seq, p, err := r.Next()
		if errors.Is(err, io.EOF) {
			return got
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		got = append(got, rec{seq, string(p)})
	}
}

func TestReaderFollowsAppends(t *testing.T) {
	dir := t.TempDir()
	s := open(t, Options{Dir: dir, SegmentSize: 5 * recSize})
	r := s.NewReader(1)
	defer r.Close()
	checkRecs(t, readAll(t, r), nil)
	appendN(t, s, 0, 3)
	checkRecs(t, readAll(t, r), want(0, 3))
	appendN(t, s, 3, 17) // across segments
	checkRecs(t, readAll(t, r), want(3, 17))
	checkRecs(t, readAll(t, r), nil)
}

func TestReaderStartsAtSeqAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	s := open(t, Options{Dir: dir, SegmentSize: 4 * recSize})
	appendN(t, s, 0, 20)
	if err := s.Trim(6); err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)
	s = open(t, Options{Dir: dir, SegmentSize: 4 * recSize})
	for _, from := range []uint64{1, 7, 9, 13, 20, 21, 50} {
		r := s.NewReader(from)
		lo := max(int(from)-1, 6)
		if lo > 20 {
			lo = 20
		}
		checkRecs(t, readAll(t, r), want(lo, 20))
		r.Close()
	}
}

func TestReaderSeek(t *testing.T) {
	s := open(t, Options{Dir: t.TempDir(), SegmentSize: 4 * recSize})
	var pos []Pos
	for i := range 12 {
		p, err := s.AppendPos([]byte(payloadOf(i)))
		if err != nil {
			t.Fatal(err)
		}
		pos = append(pos, p)
	}
	r := s.NewReader(1)
	defer r.Close()
	for _, i := range []int{0, 5, 4, 11, 8} {
		r.Seek(pos[i])
		checkRecs(t, readAll(t, r), want(i, 12))
	}
}

func TestReaderSkipsDamage(t *testing.T) {
	dir := t.TempDir()
	s := open(t, Options{Dir: dir, SegmentSize: 4 * recSize})
	appendN(t, s, 0, 8) // segments 1-4 and 5-8
	mustClose(t, s)
	flipFromEnd(recSize+3)(t, filepath.Join(dir, segName(1))) // damages record 3 of the first segment
	s = open(t, Options{Dir: dir, SegmentSize: 4 * recSize})
	r := s.NewReader(1)
	defer r.Close()
	got := readAll(t, r)
	checkRecs(t, got, append(want(0, 2), want(4, 8)...))
	if st := s.Stats(); st.Corrupt != 1 {
		t.Errorf("Corrupt = %d, want 1", st.Corrupt)
	}
}

func TestReaderAfterTrim(t *testing.T) {
	s := open(t, Options{Dir: t.TempDir(), SegmentSize: 3 * recSize})
	r := s.NewReader(1)
	defer r.Close()
	for i := 0; i < 30; i += 5 {
		appendN(t, s, i, i+5)
		checkRecs(t, readAll(t, r), want(i, i+5))
		if err := s.Trim(uint64(i + 5)); err != nil {
			t.Fatal(err)
		}
	}
}
