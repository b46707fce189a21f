package store

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestBadEntriesRejected(t *testing.T) {
	base := entry(day1, "ok", 3)
	tests := []struct {
		name string
		e    Entry
	}{
		{"empty", Entry{Day: day1, Name: "", Files: base.Files}},
		{"dot", Entry{Day: day1, Name: ".", Files: base.Files}},
		{"dotdot", Entry{Day: day1, Name: "..", Files: base.Files}},
		{"parent path", Entry{Day: day1, Name: "../x", Files: base.Files}},
		{"slash", Entry{Day: day1, Name: "a/b", Files: base.Files}},
		{"absolute", Entry{Day: day1, Name: "/etc/passwd", Files: base.Files}},
		{"leading dot", Entry{Day: day1, Name: ".hidden", Files: base.Files}},
		{"temp look-alike", Entry{Day: day1, Name: ".tmp-x", Files: base.Files}},
		{"leading dash", Entry{Day: day1, Name: "-rf", Files: base.Files}},
		{"inner dotdot", Entry{Day: day1, Name: "a..b", Files: base.Files}},
		{"space", Entry{Day: day1, Name: "a b", Files: base.Files}},
		{"newline", Entry{Day: day1, Name: "a\nb", Files: base.Files}},
		{"nul", Entry{Day: day1, Name: "a\x00b", Files: base.Files}},
		{"unicode", Entry{Day: day1, Name: "caf\u00e9", Files: base.Files}},
		{"backslash", Entry{Day: day1, Name: `a\b`, Files: base.Files}},
		{"too long", Entry{Day: day1, Name: strings.Repeat("a", maxName+1), Files: base.Files}},
		{"bad ext", Entry{Day: day1, Name: "ok", Files: []File{{Ext: "txt"}}}},
		{"path ext", Entry{Day: day1, Name: "ok", Files: []File{{Ext: "md/../../x"}}}},
		{"empty ext", Entry{Day: day1, Name: "ok", Files: []File{{Ext: ""}}}},
		{"duplicate ext", Entry{Day: day1, Name: "ok", Files: []File{{Ext: "md"}, {Ext: "md"}}}},
		{"no files", Entry{Day: day1, Name: "ok"}},
		{"zero day", Entry{Name: "ok", Files: base.Files}},
		{"far day", Entry{Day: time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC), Name: "ok", Files: base.Files}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openStore(t, Options{Dir: dir})
			// A valid entry first: the whole batch must be rejected.
			w, err := s.WriteBatch([]Entry{entry(day1, "good", 3), tt.e})
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("WriteBatch error = %v, want ErrInvalid", err)
			}
			if w != nil {
				t.Errorf("Written = %v, want nil", w)
			}
			if got := tree(t, dir); len(got) != 0 {
				t.Errorf("directory holds %v, want nothing", got)
			}
			// Path refuses what would make a bad path: the name or the day.
			pathOK := checkName(tt.e.Name) == nil && !tt.e.Day.IsZero() && tt.e.Day.Year() < 10000
			if p := s.Path(tt.e, "md"); (p != "") != pathOK {
				t.Errorf("Path = %q, want non-empty: %v", p, pathOK)
			}
			if p := s.Path(base, "../md"); p != "" {
				t.Errorf("Path with bad ext = %q", p)
			}
		})
	}
}

func TestGoodNamesAccepted(t *testing.T) {
	for _, name := range []string{"a", "A-b_c.d", "2025-03-01T10-00-00Z_terminal-shell_3f2a", strings.Repeat("x", maxName), "x."} {
		t.Run(name, func(t *testing.T) {
			s := openStore(t, Options{Dir: t.TempDir()})
			w := mustWrite(t, s, entry(day1, name, 3))
			if want := s.Path(entry(day1, name, 3), "md"); w[0].Paths[0] != want {
				t.Errorf("path = %q, want %q", w[0].Paths[0], want)
			}
			if got := readFile(t, w[0].Paths[0]); got != "mmm" {
				t.Errorf("content = %q", got)
			}
		})
	}
}

func TestSplitFile(t *testing.T) {
	tests := []struct {
		file, name, ext string
		ok              bool
	}{
		{"r1.md", "r1", "md", true},
		{"r1.json", "r1", "json", true},
		{"a.b.json", "a.b", "json", true},
		{"r1.txt", "", "", false},
		{".tmp-r1.md.0123", "", "", false},
		{".md", "", "", false},
		{"md", "", "", false},
		{".lock", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			name, ext, ok := splitFile(tt.file)
			if name != tt.name || ext != tt.ext || ok != tt.ok {
				t.Errorf("splitFile(%q) = %q, %q, %v", tt.file, name, ext, ok)
			}
		})
	}
}
