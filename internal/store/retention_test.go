package store

import (
	"os"
	"slices"
	"testing"
	"time"
)

func TestRetention(t *testing.T) {
	type write struct {
		after time.Duration // clock advance before the write
		e     Entry
	}
	tests := []struct {
		name       string
		ret        Retention
		writes     []write
		pruneAfter time.Duration // clock advance before a final Prune
		want       []string
	}{
		{
			name: "count, oldest first",
			ret:  Retention{MaxReports: 2},
			writes: []write{
				{0, entry(day1, "r1", 10)},
				{time.Minute, entry(day1, "r2", 10)},
				{time.Minute, entry(day2, "r3", 10)},
			},
			want: []string{"2025-03-01/", "2025-03-01/r2.json", "2025-03-01/r2.md",
				"2025-03-02/", "2025-03-02/r3.json", "2025-03-02/r3.md"},
		},
		{
			name: "count, an updated report is young again",
			ret:  Retention{MaxReports: 2},
			writes: []write{
				{0, entry(day1, "r1", 10)},
				{time.Minute, entry(day1, "r2", 10)},
				{time.Minute, entry(day1, "r1", 11)},
				{time.Minute, entry(day2, "r3", 10)},
			},
			want: []string{"2025-03-01/", "2025-03-01/r1.json", "2025-03-01/r1.md",
				"2025-03-02/", "2025-03-02/r3.json", "2025-03-02/r3.md"},
		},
		{
			name: "bytes",
			ret:  Retention{MaxBytes: 250},
			writes: []write{
				{0, entry(day1, "r1", 50)},
				{time.Minute, entry(day1, "r2", 50)},
				{time.Minute, entry(day2, "r3", 50)},
			},
			want: []string{"2025-03-01/", "2025-03-01/r2.json", "2025-03-01/r2.md",
				"2025-03-02/", "2025-03-02/r3.json", "2025-03-02/r3.md"},
		},
		{
			name: "bytes, one huge report clears older ones",
			ret:  Retention{MaxBytes: 250},
			writes: []write{
				{0, entry(day1, "r1", 50)},
				{time.Minute, entry(day1, "r2", 10)},
				{time.Minute, entry(day2, "big", 120)},
			},
			want: []string{"2025-03-02/", "2025-03-02/big.json", "2025-03-02/big.md"},
		},
		{
			name: "age, emptied day directory removed",
			ret:  Retention{MaxAge: time.Hour},
			writes: []write{
				{0, entry(day1, "r1", 10)},
				{50 * time.Minute, entry(day2, "r2", 10)},
			},
			pruneAfter: 20 * time.Minute,
			want:       []string{"2025-03-02/", "2025-03-02/r2.json", "2025-03-02/r2.md"},
		},
		{
			name: "age, all expired",
			ret:  Retention{MaxAge: time.Hour},
			writes: []write{
				{0, entry(day1, "r1", 10)},
				{time.Minute, entry(day2, "r2", 10)},
			},
			pruneAfter: 2 * time.Hour,
			want:       nil,
		},
		{
			name: "unlimited",
			writes: []write{
				{0, entry(day1, "r1", 10)},
				{1000 * time.Hour, entry(day1, "r2", 10)},
			},
			pruneAfter: 1000 * time.Hour,
			want:       []string{"2025-03-01/", "2025-03-01/r1.json", "2025-03-01/r1.md", "2025-03-01/r2.json", "2025-03-01/r2.md"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			c := &clock{t: time.Date(2025, 3, 2, 12, 0, 0, 0, time.UTC)}
			s := openStore(t, Options{Dir: dir, Retention: tt.ret, Now: c.now})
			for _, w := range tt.writes {
				c.advance(w.after)
				mustWrite(t, s, w.e)
			}
			c.advance(tt.pruneAfter)
			if _, err := s.Prune(); err != nil {
				t.Fatal(err)
			}
			if got := tree(t, dir); !slices.Equal(got, tt.want) {
				t.Errorf("tree:\n got %v\nwant %v", got, tt.want)
			}
			files, bytes := s.Usage()
			var wantFiles int
			var wantBytes int64
			for _, p := range tt.want {
				if fi, err := os.Stat(dir + "/" + p); err == nil && !fi.IsDir() {
					wantFiles++
					wantBytes += fi.Size()
				}
			}
			if files != wantFiles || bytes != wantBytes {
				t.Errorf("Usage = %d, %d; want %d, %d", files, bytes, wantFiles, wantBytes)
			}
		})
	}
}

// TestRetentionAtOpen checks that Open indexes existing reports by their
// modification times and prunes the oldest.
func TestRetentionAtOpen(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2025, 3, 3, 12, 0, 0, 0, time.UTC)
	for i, name := range []string{"old", "mid", "new"} {
		mtime := now.Add(-time.Duration(3-i) * time.Hour)
		for _, ext := range []string{"md", "json"} {
			p := dir + "/2025-03-01/" + name + "." + ext
			writeFile(t, p, "data")
			if err := os.Chtimes(p, mtime, mtime); err != nil {
				t.Fatal(err)
			}
		}
	}
	// old.json is recent: a report's age is that of its newest file.
	if err := os.Chtimes(dir+"/2025-03-01/old.json", now, now); err != nil {
		t.Fatal(err)
	}
	s := openStore(t, Options{Dir: dir, Retention: Retention{MaxReports: 2}, Now: func() time.Time { return now }})
	want := []string{"2025-03-01/", "2025-03-01/new.json", "2025-03-01/new.md",
		"2025-03-01/old.json", "2025-03-01/old.md"}
	if got := tree(t, dir); !slices.Equal(got, want) {
		t.Errorf("tree:\n got %v\nwant %v", got, want)
	}
	if files, _ := s.Usage(); files != 4 {
		t.Errorf("Usage files = %d, want 4", files)
	}

	// Age: only the report whose newest file is over 90 minutes old goes.
	s.ret = Retention{MaxAge: 90 * time.Minute}
	if n, err := s.Prune(); err != nil || n != 0 {
		t.Fatalf("Prune = %d, %v; want 0, nil", n, err)
	}
	now = now.Add(time.Hour)
	if n, err := s.Prune(); err != nil || n != 1 {
		t.Fatalf("Prune = %d, %v; want 1, nil", n, err)
	}
	want = []string{"2025-03-01/", "2025-03-01/old.json", "2025-03-01/old.md"}
	if got := tree(t, dir); !slices.Equal(got, want) {
		t.Errorf("tree:\n got %v\nwant %v", got, want)
	}
}
