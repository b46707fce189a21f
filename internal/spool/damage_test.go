package spool

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// damage changes a segment file as a crash or a bad disk would.
type damage func(t *testing.T, path string)

func truncateBy(n int64) damage {
	return func(t *testing.T, path string) {
		if err := os.Truncate(path, fileSize(t, path)-n); err != nil {
			t.Fatal(err)
		}
	}
}

func appendBytes(b []byte) damage {
	return func(t *testing.T, path string) {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.Write(b); err != nil {
			t.Fatal(err)
		}
	}
}

// flipFromEnd inverts the byte n bytes before the end of the file.
func flipFromEnd(n int64) damage {
	return func(t *testing.T, path string) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		b[int64(len(b))-n] ^= 0xff
		if err := os.WriteFile(path, b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDamagedTail(t *testing.T) {
	const n = 10
	tests := []struct {
		name string
		hurt damage
		good int // records left
	}{
		{"last record cut in its payload", truncateBy(recSize / 3), n - 1},
		{"last record cut in its header", truncateBy(recSize - 5), n - 1},
		{"garbage appended", appendBytes([]byte("\x07garbage that is not a record at all")), n},
		{"zeros appended", appendBytes(make([]byte, 4096)), n},
		{"half a header appended", appendBytes([]byte{1, 2, 3}), n},
		{"byte flipped in the last payload", flipFromEnd(recSize / 3), n - 1},
		{"byte flipped in the last length", flipFromEnd(recSize), n - 1},
		{"byte flipped in the last seq", flipFromEnd(recSize - 9), n - 1},
		{"byte flipped in the last checksum", flipFromEnd(recSize - 5), n - 1},
		{"huge length appended", appendBytes([]byte{0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 11, 0, 0, 0, 0, 0, 0, 0}), n},
		{"first record of the segment cut", truncateBy(3*recSize - 4), n - 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			// Seven records per segment: the damage is in the second one.
			o := Options{Dir: dir, SegmentSize: 7 * recSize}
			s := open(t, o)
			appendN(t, s, 0, n)
			mustClose(t, s)
			tt.hurt(t, lastSeg(t, dir))

			s = open(t, o)
			checkRecs(t, replayAll(t, s), want(0, tt.good))
			if st := s.Stats(); st.Corrupt != 1 || st.CorruptBytes <= 0 {
				t.Errorf("Stats = %+v, want one damaged region", st)
			}
			if got := fileSize(t, lastSeg(t, dir)); got != int64(tt.good-7)*recSize {
				t.Errorf("last segment has %d bytes, want the damaged tail cut off", got)
			}
			seq, err := s.Append([]byte(payloadOf(tt.good)))
			if err != nil || seq != uint64(tt.good+1) {
				t.Fatalf("Append after damage = %d, %v; want seq %d", seq, err, tt.good+1)
			}
			checkRecs(t, replayAll(t, s), want(0, tt.good+1))
			mustClose(t, s)

			s = open(t, o)
			checkRecs(t, replayAll(t, s), want(0, tt.good+1))
			if st := s.Stats(); st.Corrupt != 0 {
				t.Errorf("Corrupt = %d after the damage was cut off", st.Corrupt)
			}
		})
	}
}

func TestDamagedEarlierSegment(t *testing.T) {
	dir := t.TempDir()
	o := Options{Dir: dir, SegmentSize: 4 * recSize}
	s := open(t, o)
	appendN(t, s, 0, 12)
	mustClose(t, s)
	// Flip a byte in record 6 (index 5), in the second segment (seqs 5-8).
	second := filepath.Join(dir, segName(5))
	flipFromEnd(2*recSize+3)(t, second)

	s = open(t, o)
	got := replayAll(t, s)
	checkRecs(t, got, append(want(0, 5), want(8, 12)...))
	if st := s.Stats(); st.Corrupt != 1 || st.CorruptBytes != 3*recSize {
		t.Errorf("Stats = %+v, want one damaged region of 3 records", st)
	}
	checkRecs(t, replayAll(t, s), got)
	if st := s.Stats(); st.Corrupt != 1 {
		t.Errorf("Corrupt = %d after a second Replay, want it counted once", st.Corrupt)
	}
	if err := s.Trim(8); err != nil {
		t.Fatal(err)
	}
	checkRecs(t, replayAll(t, s), want(8, 12))
	if _, err := os.Stat(second); !os.IsNotExist(err) {
		t.Errorf("damaged segment not deleted by Trim: %v", err)
	}
}

func TestSegmentWithWrongSeqs(t *testing.T) {
	// A record whose seq does not belong in its segment is damage too.
	dir := t.TempDir()
	o := Options{Dir: dir}
	s := open(t, o)
	appendN(t, s, 0, 3)
	mustClose(t, s)
	appendBytes(appendRecord(nil, 2, []byte("replayed seq")))(t, lastSeg(t, dir))
	s = open(t, o)
	checkRecs(t, replayAll(t, s), want(0, 3))
	if st := s.Stats(); st.Corrupt != 1 || st.CorruptBytes != headerSize+12 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestDamagedWatermark(t *testing.T) {
	dir := t.TempDir()
	o := Options{Dir: dir, SegmentSize: 2 * recSize}
	s := open(t, o)
	appendN(t, s, 0, 6)
	if err := s.Trim(3); err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)
	if err := os.WriteFile(filepath.Join(dir, watermarkFile), bytes.Repeat([]byte{9}, 12), 0o640); err != nil {
		t.Fatal(err)
	}
	s = open(t, o)
	// Seq 3 shares a segment with seq 4, so it is replayed again: better
	// twice than never.
	checkRecs(t, replayAll(t, s), want(2, 6))
	if st := s.Stats(); st.Corrupt != 1 {
		t.Errorf("Corrupt = %d, want the watermark counted", st.Corrupt)
	}
}

func TestForeignFilesIgnored(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"notes.txt", "1.seg", "00000000000000000000.seg", "0000000000000000000x.seg", watermarkTemp} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("junk"), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	s := open(t, Options{Dir: dir})
	if got := replayAll(t, s); len(got) != 0 {
		t.Fatalf("replayed %v from foreign files", got)
	}
	if seq, err := s.Append([]byte("a")); err != nil || seq != 1 {
		t.Fatalf("Append = %d, %v", seq, err)
	}
	if _, err := os.Stat(filepath.Join(dir, watermarkTemp)); !os.IsNotExist(err) {
		t.Errorf("leftover %s not removed: %v", watermarkTemp, err)
	}
}
