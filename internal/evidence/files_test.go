package evidence

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/falco-reporter/falco-reporter/internal/report"
)

// TestFilesNeverFollowed lays out what an intruder would: a symbolic link
// to /etc/shadow, a directory that is a link, a FIFO that would block an
// open, a hard link; each is described, none is followed or opened.
func TestFilesNeverFollowed(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	secret := filepath.Join(dir, "shadow")
	must(os.WriteFile(secret, []byte("root:$6$secret"), 0o600))
	must(os.Symlink("/etc/shadow", filepath.Join(dir, "to-shadow")))
	must(os.Mkdir(filepath.Join(dir, "real"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "real", "f"), nil, 0o644))
	must(os.Symlink(filepath.Join(dir, "real"), filepath.Join(dir, "linkdir")))
	must(unix.Mkfifo(filepath.Join(dir, "fifo"), 0o600))
	must(os.Link(secret, filepath.Join(dir, "hardlink")))

	paths := []string{
		filepath.Join(dir, "to-shadow"),
		filepath.Join(dir, "linkdir", "f"),
		filepath.Join(dir, "fifo"),
		secret,
		filepath.Join(dir, "hardlink"),
		filepath.Join(dir, "missing"),
	}
	ev := take(t, Request{PID: os.Getpid(), AlertNS: 1 << 62, Host: true, Paths: paths})
	if len(ev.Files) != len(paths) {
		t.Fatalf("%d files, want %d: %+v (%s, %q)", len(ev.Files), len(paths), ev.Files, ev.Reason, ev.Notes)
	}
	by := map[string]report.FileStat{}
	for _, f := range ev.Files {
		by[filepath.Base(f.Path)] = f
	}
	if f := by["to-shadow"]; f.Type != "symlink" || f.Target != "/etc/shadow" || f.Mode[0] != 'l' {
		t.Errorf("symlink: %+v, want the link itself described", f)
	}
	if f := by["f"]; f.Error != errSymlinkOnPath.Error() || f.Inode != 0 {
		t.Errorf("through a linked directory: %+v, want refused", f)
	}
	if f := by["fifo"]; f.Type != "fifo" || f.Mode != "prw-------" {
		t.Errorf("fifo: %+v", f)
	}
	s, h := by["shadow"], by["hardlink"]
	if s.Links != 2 || s.Inode != h.Inode || !slices.Contains(s.SameAs, h.Path) || !slices.Contains(h.SameAs, s.Path) {
		t.Errorf("hard link: %+v and %+v, want the same inode, 2 links, each naming the other", s, h)
	}
	if s.Size != int64(len("root:$6$secret")) || s.Mode != "-rw-------" || s.UID != os.Getuid() || s.MTime == nil {
		t.Errorf("metadata: %+v", s)
	}
	if f := by["missing"]; f.Error != "does not exist" {
		t.Errorf("missing: %+v", f)
	}
}

// TestFilesSlowPath checks the walk used by kernels without openat2.
func TestFilesSlowPath(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "real"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	root, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(root)
	fd, err := openDirSlow(root, dir[1:]+"/real")
	if err != nil {
		t.Fatalf("plain directory: %v", err)
	}
	unix.Close(fd)
	if _, err := openDirSlow(root, dir[1:]+"/link"); err != errSymlinkOnPath {
		t.Errorf("through a link: %v, want refused", err)
	}
}

func TestLsMode(t *testing.T) {
	for m, want := range map[uint32]string{
		unix.S_IFREG | 0o4755: "-rwsr-xr-x",
		unix.S_IFDIR | 0o1777: "drwxrwxrwt",
		unix.S_IFREG | 0o2644: "-rw-r-Sr--",
		unix.S_IFLNK | 0o777:  "lrwxrwxrwx",
	} {
		if got := lsMode(m); got != want {
			t.Errorf("%o: %s, want %s", m, got, want)
		}
	}
}

func TestParseSocketLine(t *testing.T) {
	s, ok := parseSocketLine("tcp", "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0")
	if !ok || s.Local != "127.0.0.1:8080" || s.Remote != "0.0.0.0:0" || s.State != "LISTEN" || s.Inode != 12345 {
		t.Errorf("%+v %v", s, ok)
	}
	s, ok = parseSocketLine("tcp6", "   0: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 777 1")
	if !ok || s.Local != "[::1]:22" {
		t.Errorf("%+v %v", s, ok)
	}
	for _, bad := range []string{"", "sl local", "0: zz:1 00:0 0A 0 0 0 0 0 1"} {
		if _, ok := parseSocketLine("tcp", bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestParseStatHostileName(t *testing.T) {
	// A command name may hold ") 1 2 3": fields count after the last ')'.
	st, err := parseStat([]byte("42 (evil) 9 9 9) S 7 42 42 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 1234 0 0"))
	if err != nil || st.ppid != 7 {
		t.Errorf("%+v %v", st, err)
	}
	if _, err := parseStat([]byte("42 (x")); err == nil {
		t.Error("no ')': parsed")
	}
}
