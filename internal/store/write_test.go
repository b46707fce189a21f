package store

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestWriteBatch(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "reports")
	s := openStore(t, Options{Dir: dir})
	w := mustWrite(t, s,
		entry(day1, "r1", 10),
		entry(day2, "r2", 20),
		Entry{Day: day2, Name: "r3", Files: []File{{Ext: "json", Data: []byte("{}")}}},
	)
	want := []Written{
		{Name: "r1", Paths: []string{dir + "/2025-03-01/r1.md", dir + "/2025-03-01/r1.json"}},
		{Name: "r2", Paths: []string{dir + "/2025-03-02/r2.md", dir + "/2025-03-02/r2.json"}},
		{Name: "r3", Paths: []string{dir + "/2025-03-02/r3.json"}},
	}
	if !slices.EqualFunc(w, want, func(a, b Written) bool { return a.Name == b.Name && slices.Equal(a.Paths, b.Paths) }) {
		t.Fatalf("Written = %v, want %v", w, want)
	}
	if got := readFile(t, dir+"/2025-03-02/r3.json"); got != "{}" {
		t.Errorf("r3.json = %q", got)
	}
	if files, bytes := s.Usage(); files != 5 || bytes != 2*10+2*20+2 {
		t.Errorf("Usage = %d, %d; want 5, 62", files, bytes)
	}
	wantTree := []string{"2025-03-01/", "2025-03-01/r1.json", "2025-03-01/r1.md",
		"2025-03-02/", "2025-03-02/r2.json", "2025-03-02/r2.md", "2025-03-02/r3.json"}
	if got := tree(t, dir); !slices.Equal(got, wantTree) {
		t.Errorf("tree = %v, want %v", got, wantTree)
	}
}

func TestWriteReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, Options{Dir: dir})
	w := mustWrite(t, s, entry(day1, "r1", 100))
	md := w[0].Paths[0]

	// A reader that opened the old report keeps reading all of it: the new
	// version arrives by rename, never by rewriting the old file in place.
	old, err := os.Open(md)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	before, err := os.Stat(md)
	if err != nil {
		t.Fatal(err)
	}

	mustWrite(t, s, Entry{Day: day1, Name: "r1", Files: []File{{Ext: "md", Data: []byte("new")}}})

	if got := readFile(t, md); got != "new" {
		t.Errorf("after replace md = %q, want %q", got, "new")
	}
	after, err := os.Stat(md)
	if err != nil {
		t.Fatal(err)
	}
	if os.SameFile(before, after) {
		t.Error("replace rewrote the file in place; want a new inode renamed over it")
	}
	buf := make([]byte, 200)
	n, _ := old.ReadAt(buf, 0)
	if n != 100 || buf[0] != 'm' {
		t.Errorf("old reader got %d bytes %q, want the 100 old bytes", n, buf[:min(n, 10)])
	}
	// The json file of the first version stays, and sizes follow the update.
	if files, bytes := s.Usage(); files != 2 || bytes != 3+100 {
		t.Errorf("Usage = %d, %d; want 2, 103", files, bytes)
	}
	if got := temps(t, dir); len(got) != 0 {
		t.Errorf("temporary files left: %v", got)
	}
}

func TestWriteSameNameTwiceInBatch(t *testing.T) {
	s := openStore(t, Options{Dir: t.TempDir()})
	a := Entry{Day: day1, Name: "r", Files: []File{{Ext: "md", Data: []byte("first")}}}
	b := Entry{Day: day1, Name: "r", Files: []File{{Ext: "md", Data: []byte("second")}}}
	w := mustWrite(t, s, a, b)
	if got := readFile(t, w[1].Paths[0]); got != "second" {
		t.Errorf("content = %q, want the later entry", got)
	}
	if files, bytes := s.Usage(); files != 1 || bytes != 6 {
		t.Errorf("Usage = %d, %d; want 1, 6", files, bytes)
	}
}

func TestClosed(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WriteBatch([]Entry{entry(day1, "r", 1)}); err != ErrClosed {
		t.Errorf("WriteBatch after Close = %v, want ErrClosed", err)
	}
	if _, err := s.Prune(); err != ErrClosed {
		t.Errorf("Prune after Close = %v, want ErrClosed", err)
	}
}
