package spool

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestAppendReplayAcrossReopen(t *testing.T) {
	tests := []struct {
		name    string
		segSize int64
		batches []int // records appended per Open
	}{
		{"one open", 0, []int{50}},
		{"small segments", 3 * recSize, []int{10, 7, 1, 20}},
		{"one record per segment", 1, []int{5, 5}},
		{"empty opens", 4 * recSize, []int{0, 3, 0, 0, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "spool")
			total := 0
			for _, n := range tt.batches {
				s := open(t, Options{Dir: dir, SegmentSize: tt.segSize})
				checkRecs(t, replayAll(t, s), want(0, total))
				seqs := appendN(t, s, total, total+n)
				for i, seq := range seqs {
					if seq != uint64(total+i+1) {
						t.Fatalf("Append %d returned seq %d, want %d", total+i, seq, total+i+1)
					}
				}
				total += n
				checkRecs(t, replayAll(t, s), want(0, total))
				mustClose(t, s)
			}
			if tt.segSize == 1 && len(segFiles(t, dir)) != total {
				t.Errorf("%d segment files, want one per record (%d)", len(segFiles(t, dir)), total)
			}
		})
	}
}

func TestOptions(t *testing.T) {
	dir := t.TempDir()
	bad := []struct {
		name string
		o    Options
	}{
		{"no dir", Options{}},
		{"negative segment size", Options{Dir: dir, SegmentSize: -1}},
		{"negative max bytes", Options{Dir: dir, MaxBytes: -1}},
		{"negative sync interval", Options{Dir: dir, SyncEvery: -time.Second}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if s, err := Open(tt.o); err == nil {
				_ = s.Close()
				t.Fatal("Open succeeded")
			}
		})
	}
	t.Run("dir is a file", func(t *testing.T) {
		f := filepath.Join(dir, "file")
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if s, err := Open(Options{Dir: f}); err == nil {
			_ = s.Close()
			t.Fatal("Open succeeded")
		}
	})
	t.Run("defaults", func(t *testing.T) {
		s := open(t, Options{Dir: filepath.Join(dir, "d")})
		if s.opt.SegmentSize != DefaultSegmentSize || s.opt.MaxBytes != DefaultMaxBytes || s.opt.SyncEvery != DefaultSyncEvery {
			t.Errorf("options = %+v", s.opt)
		}
	})
}

func TestModes(t *testing.T) {
	old := syscall.Umask(0o077) // Open must not depend on the umask
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "state", "spool")
	s := open(t, Options{Dir: dir, SegmentSize: 1})
	appendN(t, s, 0, 3)
	if err := s.Trim(1); err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)
	check := func(path string, want os.FileMode) {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s has mode %v, want %v", path, got, want)
		}
	}
	check(dir, dirMode)
	check(filepath.Join(dir, watermarkFile), fileMode)
	for _, f := range segFiles(t, dir) {
		check(filepath.Join(dir, f), fileMode)
	}
}

func TestClosed(t *testing.T) {
	s := open(t, Options{Dir: t.TempDir()})
	appendN(t, s, 0, 2)
	mustClose(t, s)
	if _, err := s.Append(nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close = %v", err)
	}
	if err := s.Trim(1); !errors.Is(err, ErrClosed) {
		t.Errorf("Trim after Close = %v", err)
	}
	if err := s.Replay(func(uint64, []byte) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("Replay after Close = %v", err)
	}
	if err := s.Sync(); err != nil {
		t.Errorf("Sync after Close = %v, want nil: everything was synced by Close", err)
	}
	if err := s.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close = %v", err)
	}
	if st := s.Stats(); st.SyncedSeq != 2 || st.LastSeq != 2 {
		t.Errorf("Stats after Close = %+v, want everything synced", st)
	}
}

func TestReplayCallbackError(t *testing.T) {
	s := open(t, Options{Dir: t.TempDir(), SegmentSize: 2 * recSize})
	appendN(t, s, 0, 5)
	stop := errors.New("stop")
	var seen []uint64
	err := s.Replay(func(seq uint64, _ []byte) error {
		seen = append(seen, seq)
		if seq == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || len(seen) != 3 {
		t.Fatalf("Replay = %v after %v, want the callback's error after 3 records", err, seen)
	}
}
