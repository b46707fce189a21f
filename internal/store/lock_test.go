package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestLock(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "reports")
	unlock, err := Lock(dir)
	if err != nil {
		t.Fatalf("first Lock: %v", err)
	}

	_, err = Lock(dir)
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("second Lock = %v, want ErrInUse", err)
	}
	want := fmt.Sprintf("reports directory %s is in use by another falco-reporter (pid %d)", dir, os.Getpid())
	if err.Error() != want {
		t.Errorf("message = %q, want %q", err, want)
	}

	if err := unlock(); err != nil {
		t.Fatalf("unlock: %v", err)
	}
	if err := unlock(); err != nil {
		t.Errorf("second unlock: %v", err)
	}
	unlock2, err := Lock(dir)
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	if err := unlock2(); err != nil {
		t.Fatal(err)
	}
}

func TestLockUnknownPID(t *testing.T) {
	dir := t.TempDir()
	unlock, err := Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if err := os.WriteFile(filepath.Join(dir, ".lock"), []byte("garbage"), 0o640); err != nil {
		t.Fatal(err)
	}
	_, err = Lock(dir)
	want := fmt.Sprintf("reports directory %s is in use by another falco-reporter (pid unknown)", dir)
	if err == nil || err.Error() != want {
		t.Errorf("second Lock = %v, want %q", err, want)
	}
}

func TestLockRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(t.TempDir(), "target")
	symlink(t, target, filepath.Join(dir, ".lock"))
	if unlock, err := Lock(dir); err == nil {
		unlock()
		t.Fatal("Lock followed a symlinked .lock")
	}
	if _, err := os.Lstat(target); err == nil {
		t.Error("Lock created the symlink's target")
	}
}
