package store

import (
	"slices"
	"testing"
	"time"
)

// TestRetentionByPriority: to keep MaxReports or MaxBytes, reports of the
// lowest priority go first, the oldest first within a priority, however
// new they are; MaxAge takes any priority.
func TestRetentionByPriority(t *testing.T) {
	name := func(prio, rest string) string { return "20250301T100000Z-" + prio + "-" + rest }
	tests := []struct {
		name   string
		ret    Retention
		writes []string // in time order, a minute apart
		want   []string // names left
	}{
		{
			name:   "count: a flood of warnings never pushes out an older critical",
			ret:    Retention{MaxReports: 3},
			writes: []string{name("critical", "a"), name("warning", "b"), name("warning", "c"), name("warning", "d"), name("warning", "e")},
			want:   []string{name("critical", "a"), name("warning", "d"), name("warning", "e")},
		},
		{
			name:   "count: debug goes before notice, notice before warning",
			ret:    Retention{MaxReports: 2},
			writes: []string{name("warning", "a"), name("notice", "b"), name("debug", "c"), name("notice", "d")},
			want:   []string{name("notice", "d"), name("warning", "a")},
		},
		{
			name:   "count: a new low-priority report is itself the first to go",
			ret:    Retention{MaxReports: 2},
			writes: []string{name("critical", "a"), name("error", "b"), name("informational", "c")},
			want:   []string{name("critical", "a"), name("error", "b")},
		},
		{
			name:   "bytes: the same order",
			ret:    Retention{MaxBytes: 60},
			writes: []string{name("emergency", "a"), name("informational", "b"), name("alert", "c"), name("informational", "d")},
			want:   []string{name("alert", "c"), name("emergency", "a"), name("informational", "d")},
		},
		{
			name:   "names without a priority rank as warning",
			ret:    Retention{MaxReports: 2},
			writes: []string{"old-name-a", name("notice", "b"), name("error", "c")},
			want:   []string{name("error", "c"), "old-name-a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			c := &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
			s := openStore(t, Options{Dir: dir, Retention: tt.ret, Now: c.now})
			for _, n := range tt.writes {
				c.advance(time.Minute)
				mustWrite(t, s, entry(day1, n, 10))
			}
			var got []string
			for _, p := range tree(t, dir) {
				if n, ext, ok := splitFile(p[len("2025-03-01/"):]); ok && ext == "md" {
					got = append(got, n)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("left:\n got %v\nwant %v", got, tt.want)
			}
			if s.Reports() != len(tt.want) {
				t.Errorf("Reports() = %d, want %d", s.Reports(), len(tt.want))
			}
		})
	}
}

// TestBadDayIsolated: a day directory name taken by a file does not stop
// the reports of that day nor of other days.
func TestBadDayIsolated(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/2025-03-01", "not a directory")
	calls := 0
	s := openStore(t, Options{Dir: dir, OnBadDay: func(string, string, error) { calls++ }})
	mustWrite(t, s, entry(day1, "a", 3), entry(day2, "b", 3))
	mustWrite(t, s, entry(day1, "c", 3))
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	want := []string{"2025-03-01", "2025-03-01_1/", "2025-03-01_1/a.json", "2025-03-01_1/a.md", "2025-03-01_1/c.json", "2025-03-01_1/c.md",
		"2025-03-02/", "2025-03-02/b.json", "2025-03-02/b.md"}
	if got := tree(t, dir); !slices.Equal(got, want) {
		t.Errorf("tree:\n got %v\nwant %v", got, want)
	}
	if calls != 1 {
		t.Errorf("OnBadDay called %d times, want once", calls)
	}
	if got := readFile(t, dir+"/2025-03-01"); got != "not a directory" {
		t.Errorf("the file in the way was changed: %q", got)
	}
	// A restart indexes the fallback directory's reports.
	s.Close()
	s = openStore(t, Options{Dir: dir})
	if s.Reports() != 3 {
		t.Errorf("after reopen: %d reports, want 3", s.Reports())
	}
}
