package query

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/query/querytest"
	"github.com/falco-reporter/falco-reporter/internal/report"
)

// follower runs Follow in the background and collects its changes.
type follower struct {
	mu      sync.Mutex
	changes []Change
	stop    func() error
}

func follow(t *testing.T, l *Local, f Filter) *follower {
	t.Helper()
	fl := &follower{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- l.Follow(ctx, f, func(c Change) error {
			fl.mu.Lock()
			defer fl.mu.Unlock()
			fl.changes = append(fl.changes, c)
			return nil
		})
	}()
	fl.stop = func() error { cancel(); return <-done }
	t.Cleanup(func() { _ = fl.stop() })
	return fl
}

func (fl *follower) wait(t *testing.T, n int) []Change {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		fl.mu.Lock()
		got := append([]Change(nil), fl.changes...)
		fl.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d changes, want %d: %+v", len(got), n, got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func writeReports(t *testing.T, dir string, rs ...report.Report) []string {
	t.Helper()
	paths, err := querytest.Write(dir, rs, false)
	if err != nil {
		t.Fatal(err)
	}
	return paths
}

func TestFollow(t *testing.T) {
	dir := t.TempDir()
	rs, err := querytest.Reports(4, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	old, atStart, later := rs[0], rs[1], rs[2]
	// A report from before: not shown, but its updates are.
	oldPath := writeReports(t, dir, old)[0]
	hour := time.Now().Add(-time.Hour)
	if err := os.Chtimes(oldPath, hour, hour); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(dir+"/"+old.FirstSeen.UTC().Format("2006-01-02"), hour, hour); err != nil {
		t.Fatal(err)
	}
	l := NewLocal(dir, nil)
	l.poll = 10 * time.Millisecond
	// Written after Follow starts but before its first look: not missed.
	l.afterStart = func() { writeReports(t, dir, atStart) }
	fl := follow(t, l, Filter{})
	got := fl.wait(t, 1)
	if got[0].Entry.ID != atStart.ID || !got[0].New {
		t.Fatalf("first change %+v, want the report written at start", got[0])
	}

	writeReports(t, dir, later)
	fl.wait(t, 2)
	atStart.Occurrences += 5
	writeReports(t, dir, atStart)
	fl.wait(t, 3)
	writeReports(t, dir, atStart) // rewritten, nothing new: not shown
	old.Occurrences += 1
	writeReports(t, dir, old)
	got = fl.wait(t, 4)
	time.Sleep(50 * time.Millisecond)
	got = fl.wait(t, 4)
	want := []struct {
		id  string
		new bool
		occ int
	}{{atStart.ID, true, atStart.Occurrences - 5}, {later.ID, true, later.Occurrences}, {atStart.ID, false, atStart.Occurrences}, {old.ID, false, old.Occurrences}}
	if len(got) != len(want) {
		t.Fatalf("%d changes, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].Entry.ID != w.id || got[i].New != w.new || got[i].Entry.Occurrences != w.occ {
			t.Errorf("change %d = {%s new=%v occ=%d}, want %+v", i, got[i].Entry.ID, got[i].New, got[i].Entry.Occurrences, w)
		}
	}
}

// TestFollowMissesNothing writes reports while Follow starts and runs;
// every one is shown exactly once.
func TestFollowMissesNothing(t *testing.T) {
	dir := t.TempDir()
	const n = 300
	rs, err := querytest.Reports(n, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	l := NewLocal(dir, nil)
	l.poll = 5 * time.Millisecond
	started := make(chan struct{})
	var wg sync.WaitGroup
	l.afterStart = func() { close(started) }
	wg.Go(func() {
		<-started
		for i := range rs {
			writeReports(t, dir, rs[i])
		}
	})
	fl := follow(t, l, Filter{Host: "node-1"})
	wg.Wait()
	want := 0
	for _, r := range rs {
		if r.Hostname == "node-1" {
			want++
		}
	}
	got := fl.wait(t, want)
	time.Sleep(50 * time.Millisecond)
	got = fl.wait(t, want)
	seen := map[string]bool{}
	for _, c := range got {
		if seen[c.Entry.ID] || !c.New || c.Entry.Hostname != "node-1" {
			t.Errorf("change %+v shown twice, not new, or not matching", c)
		}
		seen[c.Entry.ID] = true
	}
	if len(seen) != want {
		t.Errorf("%d reports shown, want %d", len(seen), want)
	}
}

func TestFollowSince(t *testing.T) {
	dir := t.TempDir()
	rs, err := querytest.Reports(10, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	writeReports(t, dir, rs...)
	l := NewLocal(dir, nil)
	l.poll = 10 * time.Millisecond
	fl := follow(t, l, Filter{Since: time.Now().Add(-150 * time.Second)})
	got := fl.wait(t, 3)
	time.Sleep(50 * time.Millisecond)
	if got = fl.wait(t, 3); len(got) != 3 {
		t.Fatalf("%d changes: %+v", len(got), got)
	}
	for i, c := range got {
		if want := rs[2-i].ID; c.Entry.ID != want {
			t.Errorf("change %d: %s, want %s (oldest first)", i, c.Entry.ID, want)
		}
	}
	_ = fmt.Sprint()
}
