package spool

import (
	"errors"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/falco-reporter/falco-reporter/internal/testfs"
)

func TestDiskFull(t *testing.T) {
	mnt := testfs.Tmpfs(t, "64k")
	dir := filepath.Join(mnt, "spool")
	o := Options{Dir: dir, SegmentSize: 20 << 10}
	s := open(t, o)
	// Records of 1016 bytes in segments of 20 KiB: the write that fills
	// the disk stops partway through a record (at a page boundary), which
	// Append must cut off again.
	payload := make([]byte, 1000)
	var seqs []uint64
	var err error
	for range 200 {
		var seq uint64
		if seq, err = s.Append(payload); err != nil {
			break
		}
		seqs = append(seqs, seq)
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Append on a full disk = %v after %d records, want ENOSPC", err, len(seqs))
	}
	if _, err := s.Append(payload); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("second Append on a full disk = %v, want ENOSPC", err)
	}
	if err := s.Sync(); err != nil {
		t.Fatalf("Sync after ENOSPC: %v", err)
	}

	// Trim cannot write its watermark but still deletes whole segments;
	// then appends work again, and so does the next Trim.
	before := s.Bytes()
	half := seqs[len(seqs)-1] / 2
	if err := s.Trim(half); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Trim on a full disk = %v, want ENOSPC", err)
	}
	if s.Bytes() >= before {
		t.Fatalf("Trim on a full disk freed nothing: %d bytes", s.Bytes())
	}
	seq, err := s.Append(payload)
	if err != nil || seq <= seqs[len(seqs)-1] {
		t.Fatalf("Append after Trim = %d, %v", seq, err)
	}
	if err := s.Trim(half); err != nil {
		t.Fatalf("Trim again: %v", err)
	}
	var got []uint64
	err = s.Replay(func(seq uint64, p []byte) error {
		got = append(got, seq)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Corrupt != 0 {
		t.Errorf("Corrupt = %d: a failed write left a partial record", st.Corrupt)
	}
	mustClose(t, s)

	s = open(t, o)
	var again []uint64
	if err := s.Replay(func(seq uint64, _ []byte) error { again = append(again, seq); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(again) != len(got) || again[len(again)-1] != seq || s.Stats().Corrupt != 0 {
		t.Fatalf("after reopen replayed %d records ending %d, want %d ending %d; stats %+v",
			len(again), again[len(again)-1], len(got), seq, s.Stats())
	}
}
