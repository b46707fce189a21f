package query

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/query/querytest"
	"github.com/falco-reporter/falco-reporter/internal/report"
)

var end = time.Date(2026, 4, 2, 12, 0, 0, 0, time.UTC)

// testDir writes n real reports (JSON and Markdown) and returns the
// directory and the reports.
func testDir(t testing.TB, n int) (string, []report.Report) {
	t.Helper()
	dir := t.TempDir()
	rs, err := querytest.Reports(n, end)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := querytest.Write(dir, rs, true); err != nil {
		t.Fatal(err)
	}
	return dir, rs
}

type warnings struct{ got []string }

func (w *warnings) warn(path string, err error) {
	w.got = append(w.got, filepath.Base(path)+": "+err.Error())
}

func prio(p event.Priority) *event.Priority { return &p }

func TestListFilters(t *testing.T) {
	dir, rs := testDir(t, 60)
	field := func(r report.Report, k string) string {
		if v := r.Fields[k]; v != nil {
			return *v
		}
		return ""
	}
	count := func(keep func(r report.Report) bool) int {
		n := 0
		for _, r := range rs {
			if keep(r) {
				n++
			}
		}
		return n
	}
	tests := []struct {
		name string
		f    Filter
		want int
	}{
		{"all", Filter{}, 60},
		{"limit", Filter{Limit: 7}, 7},
		{"priority critical or worse", Filter{Priority: prio(event.PriorityCritical)}, count(func(r report.Report) bool {
			return r.Priority == "Critical" || r.Priority == "Alert" || r.Priority == "Emergency"
		})},
		{"priority warning or worse", Filter{Priority: prio(event.PriorityWarning)}, count(func(r report.Report) bool {
			p, _ := event.ParsePriority(r.Priority)
			return p <= event.PriorityWarning
		})},
		{"rule glob, any case", Filter{Rule: "terminal SHELL*"}, count(func(r report.Report) bool { return r.Rule == "Terminal shell in container" })},
		{"rule exact", Filter{Rule: "Write below binary dir"}, count(func(r report.Report) bool { return r.Rule == "Write below binary dir" })},
		{"rule no match", Filter{Rule: "Write below"}, 0},
		{"host", Filter{Host: "node-2"}, 20},
		{"host glob", Filter{Host: "node-[12]"}, 40},
		{"container short id", Filter{Container: "c0ffee1234ab"}, count(func(r report.Report) bool { return field(r, "container.id") == "c0ffee1234ab" })},
		{"container id prefix", Filter{Container: "c0ffee12"}, count(func(r report.Report) bool { return strings.HasPrefix(field(r, "container.id"), "c0ffee12") })},
		{"container full id", Filter{Container: "c0ffee1234ab" + strings.Repeat("0", 52)}, count(func(r report.Report) bool { return field(r, "container.id") == "c0ffee1234ab" })},
		{"container name", Filter{Container: "web-frontend"}, count(func(r report.Report) bool { return field(r, "container.name") == "web-frontend" })},
		{"container host", Filter{Container: "host"}, count(func(r report.Report) bool { return field(r, "container.id") == "host" })},
		{"executable", Filter{Exe: "/usr/bin/bash"}, count(func(r report.Report) bool { return field(r, "proc.exepath") == "/usr/bin/bash" })},
		{"source", Filter{Source: "INTERNAL"}, count(func(r report.Report) bool { return r.Source == "internal" })},
		{"grep in facts", Filter{Grep: "ETC/SHADOW"}, count(func(r report.Report) bool {
			for _, f := range r.Facts {
				if strings.Contains(strings.ToLower(f.Value), "/etc/shadow") {
					return true
				}
			}
			for _, v := range r.Fields {
				if v != nil && strings.Contains(strings.ToLower(*v), "/etc/shadow") {
					return true
				}
			}
			return strings.Contains(strings.ToLower(r.Title.String()), "/etc/shadow")
		})},
		{"since", Filter{Since: end.Add(-10 * time.Minute)}, 11},
		{"since and until", Filter{Since: end.Add(-30 * time.Minute), Until: end.Add(-20 * time.Minute)}, 11},
		{"everything at once", Filter{Rule: "Terminal shell in container", Host: "node-*", Container: "c0ffee1234ab", Since: end.Add(-time.Hour), Until: end, Priority: prio(event.PriorityNotice)},
			count(func(r report.Report) bool { return r.Rule == "Terminal shell in container" && !r.FirstSeen.After(end) })},
	}
	l := NewLocal(dir, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want == 0 && tt.name != "rule no match" {
				t.Fatal("the test data has no report for this filter")
			}
			got, err := l.List(context.Background(), tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.want {
				t.Fatalf("%d reports, want %d", len(got), tt.want)
			}
			if !slices.IsSortedFunc(got, func(a, b report.Entry) int { return newestFirst(&a, &b) }) {
				t.Error("not newest first")
			}
			for _, e := range got {
				if e.Files.JSON == "" || e.Files.Markdown == "" || e.Files.HTML != "" {
					t.Fatalf("files %+v", e.Files)
				}
			}
		})
	}
}

func TestListSkipsBadFilesWithOneWarning(t *testing.T) {
	dir, _ := testDir(t, 5)
	day := filepath.Join(dir, "2026-04-02")
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(day, name), []byte(data), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	write("broken.json", `{"id": "abc", "rule": `)
	write("foreign.json", `{"hello": "world"}`)
	write("array.json", `[1, 2]`)
	write("notes.txt", "not a report")
	write(".tmp-x.json", "{") // a temporary file: not looked at
	if err := os.Symlink("/etc/passwd", filepath.Join(day, "link.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("<html>"), 0o640); err != nil {
		t.Fatal(err)
	}
	var w warnings
	got, err := NewLocal(dir, w.warn).List(context.Background(), Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 {
		t.Errorf("%d reports, want 5", len(got))
	}
	slices.Sort(w.got)
	if len(w.got) != 3 || !strings.HasPrefix(w.got[0], "array.json: not a falco-reporter report") ||
		!strings.HasPrefix(w.got[1], "broken.json: malformed JSON") || !strings.HasPrefix(w.got[2], "foreign.json: not a falco-reporter report") {
		t.Errorf("warnings:\n%s", strings.Join(w.got, "\n"))
	}
}

func TestListErrors(t *testing.T) {
	_, err := NewLocal(filepath.Join(t.TempDir(), "missing"), nil).List(context.Background(), Filter{})
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing directory: %v", err)
	}
	_, err = NewLocal(t.TempDir(), nil).List(context.Background(), Filter{Rule: "[abc"})
	if err == nil || !strings.Contains(err.Error(), "--rule") {
		t.Errorf("bad glob: %v", err)
	}
	_, err = NewLocal(t.TempDir(), nil).List(context.Background(), Filter{Since: end, Until: end.Add(-time.Hour)})
	if err == nil {
		t.Error("until before since: no error")
	}
}

func TestGet(t *testing.T) {
	dir, rs := testDir(t, 30)
	l := NewLocal(dir, nil)
	ctx := context.Background()
	for _, ref := range []string{rs[3].ID, rs[3].ID[:10]} {
		d, err := l.Get(ctx, ref, Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Entry.ID != rs[3].ID || d.Report.ID != rs[3].ID || len(d.Markdown) == 0 || len(d.JSON) == 0 {
			t.Errorf("Get(%q) = %s", ref, d.Entry.ID)
		}
		for _, p := range []string{d.Entry.Files.JSON, d.Entry.Files.Markdown} {
			byPath, err := l.Get(ctx, p, Filter{})
			if err != nil || byPath.Entry.ID != rs[3].ID {
				t.Errorf("Get(%s): %v", p, err)
			}
		}
	}
	if _, err := l.Get(ctx, "0", Filter{}); !errors.Is(err, ErrAmbiguous) {
		t.Errorf("prefix of many: %v", err)
	}
	if _, err := l.Get(ctx, "zzz", Filter{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown id: %v", err)
	}
	if _, err := l.Get(ctx, filepath.Join(dir, "nope.md"), Filter{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing path: %v", err)
	}
}

func TestGlob(t *testing.T) {
	tests := []struct {
		glob, s string
		want    bool
	}{
		{"Terminal shell in container", "terminal shell in CONTAINER", true},
		{"Terminal*", "Terminal shell in container", true},
		{"*shell*", "Run shell untrusted", true},
		{"shell", "Run shell untrusted", false},
		{"node-?", "node-7", true},
		{"node-[!7]", "node-7", false},
		{"a.b", "axb", false},
		{"(x)+", "(x)+", true},
		{"line*", "line1\nline2", true},
		{"юникод ✓", "ЮНИКОД ✓", true},
		{"nœud-?", "NŒUD-é", true},
		{"bad\xffutf8", "bad\uFFFDutf8", true},
	}
	for _, tt := range tests {
		re, err := Glob(tt.glob)
		if err != nil {
			t.Fatal(err)
		}
		if got := re.MatchString(tt.s); got != tt.want {
			t.Errorf("Glob(%q) on %q = %v", tt.glob, tt.s, got)
		}
	}
}

func TestParseTime(t *testing.T) {
	now := end
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"1h", now.Add(-time.Hour), true},
		{"90m", now.Add(-90 * time.Minute), true},
		{"7d", now.Add(-7 * 24 * time.Hour), true},
		{"2026-04-02T10:00:00Z", time.Date(2026, 4, 2, 10, 0, 0, 0, time.UTC), true},
		{"2026-04-02T12:00:00+02:00", time.Date(2026, 4, 2, 10, 0, 0, 0, time.UTC), true},
		{"2026-04-01", time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), true},
		{"-1h", time.Time{}, false},
		{"yesterday", time.Time{}, false},
		{"1.5d", time.Time{}, false},
	}
	for _, tt := range tests {
		got, err := ParseTime(tt.in, now)
		if (err == nil) != tt.ok || tt.ok && !got.Equal(tt.want) {
			t.Errorf("ParseTime(%q) = %v, %v", tt.in, got, err)
		}
	}
}
