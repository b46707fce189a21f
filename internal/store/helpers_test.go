package store

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// day1 and day2 are two report days; clock times near them drive MaxAge.
var (
	day1 = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	day2 = time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC)
)

// clock is a settable Now for tests.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func openStore(t *testing.T, opts Options) *Store {
	t.Helper()
	s, err := Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// entry returns a report with an md and a json file of n bytes each.
func entry(day time.Time, name string, n int) Entry {
	return Entry{Day: day, Name: name, Files: []File{
		{Ext: "md", Data: bytes.Repeat([]byte("m"), n)},
		{Ext: "json", Data: bytes.Repeat([]byte("j"), n)},
	}}
}

func mustWrite(t *testing.T, s *Store, es ...Entry) []Written {
	t.Helper()
	w, err := s.WriteBatch(es)
	if err != nil {
		t.Fatalf("WriteBatch: %v", err)
	}
	return w
}

// tree lists every path under dir, relative, with "@" marking symlinks and
// "/" marking directories, sorted.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.Type()&os.ModeSymlink != 0:
			rel += "@"
		case d.IsDir():
			rel += "/"
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	return out
}

// temps returns the temporary files anywhere under dir.
func temps(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, p := range tree(t, dir) {
		if strings.HasPrefix(filepath.Base(p), tmpPrefix) {
			out = append(out, p)
		}
	}
	return out
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(b)
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o640); err != nil {
		t.Fatal(err)
	}
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
