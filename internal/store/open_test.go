package store

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestOpenRemovesTempsAndIndexes(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/2025-03-01/r1.md", "12345")
	writeFile(t, dir+"/2025-03-01/r1.json", "123")
	writeFile(t, dir+"/2025-03-01/.tmp-r2.md.00000000000000aa", "partial")
	writeFile(t, dir+"/2025-03-02/.tmp-r3.json.00000000000000bb", "partial")
	// Not ours: other names, other directories, files at the top.
	writeFile(t, dir+"/2025-03-01/notes.txt", "keep")
	writeFile(t, dir+"/2025-03-01/.hidden.md", "keep")
	writeFile(t, dir+"/2025-13-01/.tmp-x.md.1", "keep")
	writeFile(t, dir+"/other/.tmp-x.md.1", "keep")
	writeFile(t, dir+"/.tmp-top.md.1", "keep")
	writeFile(t, dir+"/r9.md", "keep")
	if err := os.Mkdir(dir+"/2025-03-01/.tmp-dir", 0o750); err != nil {
		t.Fatal(err)
	}

	s := openStore(t, Options{Dir: dir})

	want := []string{
		".tmp-top.md.1",
		"2025-03-01/", "2025-03-01/.hidden.md", "2025-03-01/.tmp-dir/",
		"2025-03-01/notes.txt", "2025-03-01/r1.json", "2025-03-01/r1.md",
		// 2025-03-02 held only a temporary file: it is removed with it.
		"2025-13-01/", "2025-13-01/.tmp-x.md.1",
		"other/", "other/.tmp-x.md.1",
		"r9.md",
	}
	if got := tree(t, dir); !slices.Equal(got, want) {
		t.Errorf("tree after Open:\n got %v\nwant %v", got, want)
	}
	if files, bytes := s.Usage(); files != 2 || bytes != 8 {
		t.Errorf("Usage = %d, %d; want 2, 8", files, bytes)
	}
}

func TestOpenErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	writeFile(t, file, "x")
	tests := []struct {
		name string
		opts Options
	}{
		{"no dir", Options{}},
		{"dir is a file", Options{Dir: file}},
		{"under a file", Options{Dir: filepath.Join(file, "reports")}},
		{"negative age", Options{Dir: t.TempDir(), Retention: Retention{MaxAge: -1}}},
		{"negative reports", Options{Dir: t.TempDir(), Retention: Retention{MaxReports: -1}}},
		{"negative bytes", Options{Dir: t.TempDir(), Retention: Retention{MaxBytes: -1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(tt.opts)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded, want an error")
			}
		})
	}
}
