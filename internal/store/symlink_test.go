package store

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSymlinksNotFollowed checks that neither indexing, temp cleanup nor
// retention follows, counts or deletes a symlink, in a day directory or as
// one, and that nothing outside the directory is touched.
func TestSymlinksNotFollowed(t *testing.T) {
	outside := t.TempDir()
	writeFile(t, outside+"/secret.md", "secret")
	writeFile(t, outside+"/day/r0.md", "outside report")
	writeFile(t, outside+"/day/.tmp-r0.md.1", "outside temp")
	outsideBefore := tree(t, outside)

	dir := t.TempDir()
	writeFile(t, dir+"/2025-03-01/r1.md", "r1")
	symlink(t, outside+"/secret.md", dir+"/2025-03-01/link.md")
	symlink(t, outside+"/secret.md", dir+"/2025-03-01/.tmp-link.md.1")
	symlink(t, outside+"/day", dir+"/2025-02-01")
	old := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(dir+"/2025-03-01/r1.md", old, old); err != nil {
		t.Fatal(err)
	}

	var bad []string
	s := openStore(t, Options{Dir: dir, Retention: Retention{MaxAge: time.Hour}, OnBadDay: func(day, fallback string, err error) {
		if !errors.Is(err, unix.ELOOP) && !errors.Is(err, unix.ENOTDIR) {
			t.Errorf("OnBadDay error %v, want ELOOP", err)
		}
		bad = append(bad, day+" "+filepath.Base(fallback))
	}})
	if files, bytes := s.Usage(); files != 0 || bytes != 0 {
		t.Errorf("Usage = %d, %d; want r1 pruned and links not counted", files, bytes)
	}
	// A write for the symlinked day goes to its fallback directory, never
	// through the link; OnBadDay is told once.
	feb1 := time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)
	w := mustWrite(t, s, entry(feb1, "r0", 3), entry(day1, "r3", 3))
	mustWrite(t, s, entry(feb1, "r4", 3))
	if got := w[0].Paths[0]; got != dir+"/2025-02-01_1/r0.md" {
		t.Errorf("r0 written to %s", got)
	}
	if !slices.Equal(bad, []string{"2025-02-01 2025-02-01_1"}) {
		t.Errorf("OnBadDay calls: %v", bad)
	}
	// Fill and empty the real day directories through retention.
	mustWrite(t, s, entry(day1, "r2", 3))
	s.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	if n, err := s.Prune(); err != nil || n != 4 {
		t.Errorf("Prune = %d, %v; want 4, nil", n, err)
	}

	want := []string{"2025-02-01@", "2025-03-01/", "2025-03-01/.tmp-link.md.1@", "2025-03-01/link.md@"}
	if got := tree(t, dir); !slices.Equal(got, want) {
		t.Errorf("tree:\n got %v\nwant %v", got, want)
	}
	if got := tree(t, outside); !slices.Equal(got, outsideBefore) {
		t.Errorf("outside tree changed:\n got %v\nwant %v", got, outsideBefore)
	}
	if got := readFile(t, dir+"/2025-03-01/link.md"); got != "secret" {
		t.Errorf("link target = %q, want %q", got, "secret")
	}
}

// TestWriteOverSymlink checks that writing a report whose name is taken by
// a symlink replaces the link, never writing through it.
func TestWriteOverSymlink(t *testing.T) {
	outside := t.TempDir()
	writeFile(t, outside+"/secret.md", "secret")
	dir := t.TempDir()
	if err := os.Mkdir(dir+"/2025-03-01", 0o750); err != nil {
		t.Fatal(err)
	}
	symlink(t, outside+"/secret.md", dir+"/2025-03-01/r1.md")

	s := openStore(t, Options{Dir: dir})
	mustWrite(t, s, entry(day1, "r1", 3))

	if got := readFile(t, outside+"/secret.md"); got != "secret" {
		t.Errorf("outside file = %q, want untouched", got)
	}
	fi, err := os.Lstat(dir + "/2025-03-01/r1.md")
	if err != nil || !fi.Mode().IsRegular() {
		t.Errorf("r1.md = %v, %v; want a regular file", fi, err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}
