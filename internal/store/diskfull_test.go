package store

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/falco-reporter/falco-reporter/internal/testfs"
)

func TestDiskFull(t *testing.T) {
	mnt := testfs.Tmpfs(t, "256k")
	dir := filepath.Join(mnt, "reports")
	s := openStore(t, Options{Dir: dir})
	mustWrite(t, s, entry(day1, "kept", 1000))
	filler := filepath.Join(mnt, "filler")
	testfs.Fill(t, filler)

	// A new report and a replacement of an existing one both fail.
	big := entry(day1, "kept", 20000)
	_, err := s.WriteBatch([]Entry{entry(day1, "r1", 20000), big, entry(day2, "r2", 20000)})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("WriteBatch on a full disk = %v, want ENOSPC", err)
	}
	t.Logf("full disk: %v", err)
	for _, p := range []string{"2025-03-01/r1.md", "2025-03-01/r1.json", "2025-03-02/r2.md", "2025-03-02/r2.json"} {
		if exists(filepath.Join(dir, p)) {
			t.Errorf("%s exists after a failed write", p)
		}
	}
	if got := readFile(t, filepath.Join(dir, "2025-03-01/kept.md")); got != string(bytes.Repeat([]byte("m"), 1000)) {
		t.Errorf("kept.md changed by a failed replace: %d bytes", len(got))
	}
	if got := temps(t, dir); len(got) != 0 {
		t.Errorf("temporary files left: %v", got)
	}
	if exists(filepath.Join(dir, "2025-03-02")) {
		t.Error("day directory created by the failed batch is left")
	}
	if files, bytes := s.Usage(); files != 2 || bytes != 2000 {
		t.Errorf("Usage = %d, %d; want 2, 2000", files, bytes)
	}

	// Once space is freed the same batch goes through.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	w := mustWrite(t, s, entry(day1, "r1", 20000), big, entry(day2, "r2", 20000))
	if got := readFile(t, w[1].Paths[0]); len(got) != 20000 {
		t.Errorf("kept.md has %d bytes after retry, want 20000", len(got))
	}
	if files, bytes := s.Usage(); files != 6 || bytes != 6*20000 {
		t.Errorf("Usage = %d, %d; want 6, 120000", files, bytes)
	}
}

func TestReadOnly(t *testing.T) {
	mnt := testfs.Tmpfs(t, "256k")
	dir := filepath.Join(mnt, "reports")
	s := openStore(t, Options{Dir: dir})
	mustWrite(t, s, entry(day1, "kept", 10))
	if err := syscall.Mount("", mnt, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Skipf("remount read-only: %v", err)
	}
	_, err := s.WriteBatch([]Entry{entry(day1, "r1", 10)})
	if !errors.Is(err, syscall.EROFS) {
		t.Errorf("WriteBatch on a read-only file system = %v, want EROFS", err)
	}
	if err := syscall.Mount("", mnt, "", syscall.MS_REMOUNT, ""); err != nil {
		t.Fatalf("remount read-write: %v", err)
	}
	mustWrite(t, s, entry(day1, "r1", 10))
}
