package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// rec is one replayed record.
type rec struct {
	seq     uint64
	payload string
}

// open opens a spool and closes it at cleanup unless the test did.
func open(t testing.TB, o Options) *Spool {
	t.Helper()
	s, err := Open(o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// mustClose closes s.
func mustClose(t testing.TB, s *Spool) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// payloadOf is the test payload of the i-th record appended.
func payloadOf(i int) string { return fmt.Sprintf("alert-%04d", i) }

// appendN appends the payloads of records from..to-1 and returns their seqs.
func appendN(t testing.TB, s *Spool, from, to int) []uint64 {
	t.Helper()
	var seqs []uint64
	for i := from; i < to; i++ {
		seq, err := s.Append([]byte(payloadOf(i)))
		if err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
		seqs = append(seqs, seq)
	}
	return seqs
}

// replayAll returns every record Replay gives.
func replayAll(t testing.TB, s *Spool) []rec {
	t.Helper()
	var got []rec
	err := s.Replay(func(seq uint64, p []byte) error {
		got = append(got, rec{seq, string(p)})
		return nil
	})
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	return got
}

// want returns the records seq i+1 with payload i for i in from..to-1,
// which is what appendN wrote on a fresh spool.
func want(from, to int) []rec {
	var w []rec
	for i := from; i < to; i++ {
		w = append(w, rec{uint64(i + 1), payloadOf(i)})
	}
	return w
}

// checkRecs fails the test if got differs from want.
func checkRecs(t testing.TB, got, want []rec) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("replayed %d records %v,\nwant %d records %v", len(got), short(got), len(want), short(want))
	}
}

// short abbreviates a long record list for messages.
func short(r []rec) []rec {
	if len(r) <= 8 {
		return r
	}
	return append(slices.Clip(r[:4]), r[len(r)-4:]...)
}

// segFiles returns the names of the segment files in dir.
func segFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+segExt))
	if err != nil {
		t.Fatal(err)
	}
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	return m
}

// lastSeg returns the path of the last segment file in dir.
func lastSeg(t testing.TB, dir string) string {
	t.Helper()
	files := segFiles(t, dir)
	if len(files) == 0 {
		t.Fatal("no segment files")
	}
	return filepath.Join(dir, files[len(files)-1])
}

// recSize is the size on disk of a record made by payloadOf.
var recSize = int64(headerSize + len(payloadOf(0)))

// fileSize returns the size of path.
func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
