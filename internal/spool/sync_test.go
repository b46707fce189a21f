package spool

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestGroupCommitRunsByItself(t *testing.T) {
	s := open(t, Options{Dir: t.TempDir(), SyncEvery: 10 * time.Millisecond})
	seqs := appendN(t, s, 0, 5)
	deadline := time.Now().Add(2 * time.Second)
	for s.Stats().SyncedSeq < seqs[4] {
		if time.Now().After(deadline) {
			t.Fatalf("records not fsynced without asking: %+v", s.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if st := s.Stats(); st.Syncs == 0 || st.SyncErrors != 0 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestWaitSynced(t *testing.T) {
	// A long interval: only WaitSynced's requests make the group commit run.
	s := open(t, Options{Dir: t.TempDir(), SyncEvery: time.Hour, SegmentSize: 50 * recSize})
	const writers, each = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				seq, err := s.Append([]byte(fmt.Sprintf("w%d-%d", w, i)))
				if err == nil {
					err = s.WaitSynced(context.Background(), seq)
				}
				if err == nil && s.Stats().SyncedSeq < seq {
					err = fmt.Errorf("WaitSynced(%d) returned before the sync", seq)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.Syncs == 0 || st.Syncs > writers*each {
		t.Errorf("Syncs = %d for %d appends", st.Syncs, writers*each)
	}
	got := replayAll(t, s)
	if len(got) != writers*each {
		t.Fatalf("replayed %d records, want %d", len(got), writers*each)
	}
	next := map[string]int{}
	for i, r := range got {
		if r.seq != uint64(i+1) {
			t.Fatalf("record %d has seq %d", i, r.seq)
		}
		var w, n int
		if _, err := fmt.Sscanf(r.payload, "w%d-%d", &w, &n); err != nil || n != next[fmt.Sprint(w)] {
			t.Fatalf("record %d = %q out of its writer's order", r.seq, r.payload)
		}
		next[fmt.Sprint(w)]++
	}
	if err := s.WaitSynced(context.Background(), uint64(writers*each+1)); err == nil {
		t.Error("WaitSynced for a seq not appended yet succeeded")
	}
}

func TestSyncFailure(t *testing.T) {
	dir := t.TempDir()
	s := open(t, Options{Dir: dir, SyncEvery: time.Hour})
	appendN(t, s, 0, 2)
	// Closing the segment under the spool makes its fsync fail.
	s.mu.Lock()
	_ = s.active.Close()
	s.mu.Unlock()
	if err := s.Sync(); err == nil {
		t.Fatal("Sync succeeded on a closed file")
	}
	if err := s.WaitSynced(context.Background(), 1); err == nil {
		t.Error("WaitSynced for a record of the failed commit succeeded")
	}
	seq, err := s.Append([]byte(payloadOf(2)))
	if err != nil {
		t.Fatalf("Append after a failed fsync: %v", err)
	}
	if err := s.WaitSynced(context.Background(), seq); err != nil {
		t.Fatalf("WaitSynced for a record in the new segment: %v", err)
	}
	if st := s.Stats(); st.SyncErrors != 1 || st.Segments != 2 {
		t.Errorf("Stats = %+v, want one failure and a new segment", st)
	}
	checkRecs(t, replayAll(t, s), want(0, 3))
	if err := s.Trim(2); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitSynced(context.Background(), 2); err != nil {
		t.Errorf("failure still reported for trimmed records: %v", err)
	}
}

func TestConcurrentUse(t *testing.T) {
	// Appends, trims, replays and stats at once, for the race detector.
	dir := t.TempDir()
	s := open(t, Options{Dir: dir, SegmentSize: 8 * recSize, SyncEvery: time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil && i < 2000; i++ {
				if _, err := s.Append([]byte(payloadOf(w*10000 + i))); err != nil {
					t.Errorf("Append: %v", err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for ctx.Err() == nil {
			if err := s.Trim(s.Stats().LastSeq / 2); err != nil {
				t.Errorf("Trim: %v", err)
				return
			}
			time.Sleep(time.Millisecond)
		}
	})
	wg.Go(func() {
		for ctx.Err() == nil {
			var prev uint64
			err := s.Replay(func(seq uint64, _ []byte) error {
				if seq <= prev {
					return fmt.Errorf("seq %d after %d", seq, prev)
				}
				prev = seq
				return nil
			})
			if err != nil {
				t.Errorf("Replay: %v", err)
				return
			}
		}
	})
	wg.Wait()
	if t.Failed() {
		return
	}
	st := s.Stats()
	mustClose(t, s)
	s = open(t, Options{Dir: dir})
	got := replayAll(t, s)
	if len(got) == 0 || got[0].seq != s.Stats().Watermark+1 || got[len(got)-1].seq != st.LastSeq {
		t.Fatalf("after reopen replayed %d records from %v, stats before %+v", len(got), short(got), st)
	}
	for i := 1; i < len(got); i++ {
		if got[i].seq != got[i-1].seq+1 {
			t.Fatalf("gap between %d and %d", got[i-1].seq, got[i].seq)
		}
	}
	if st2 := s.Stats(); st2.Corrupt != 0 {
		t.Errorf("Corrupt = %d", st2.Corrupt)
	}
}
