package store

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestModes checks the modes of what the store creates under a permissive
// and a restrictive umask. The umask is process-wide: no test here runs in
// parallel.
func TestModes(t *testing.T) {
	for _, umask := range []int{0, 0o077, 0o022} {
		t.Run(fmt.Sprintf("umask_%04o", umask), func(t *testing.T) {
			old := syscall.Umask(umask)
			defer syscall.Umask(old)

			root := t.TempDir()
			dir := filepath.Join(root, "a", "b", "reports")
			unlock, err := Lock(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer unlock()
			s := openStore(t, Options{Dir: dir})
			w := mustWrite(t, s, entry(day1, "r1", 5))

			want := map[string]fs.FileMode{
				filepath.Join(root, "a"):         fs.ModeDir | 0o750,
				filepath.Join(root, "a", "b"):    fs.ModeDir | 0o750,
				dir:                              fs.ModeDir | 0o750,
				filepath.Join(dir, "2025-03-01"): fs.ModeDir | 0o750,
				filepath.Join(dir, ".lock"):      0o640,
				w[0].Paths[0]:                    0o640,
				w[0].Paths[1]:                    0o640,
			}
			for p, m := range want {
				fi, err := os.Lstat(p)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode() != m {
					t.Errorf("%s: mode %v, want %v", p, fi.Mode(), m)
				}
			}
		})
	}
}

// TestExistingDirModeKept checks that Open does not change the mode of a
// directory it did not create.
func TestExistingDirModeKept(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	openStore(t, Options{Dir: dir})
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o755 {
		t.Errorf("mode = %v, want 0755 kept", fi.Mode().Perm())
	}
}
