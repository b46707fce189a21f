package runas

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// childEnv makes the test binary, run again as a child, switch to the
// user named by it and report what it then is and can do.
const childEnv = "RUNAS_TEST_CHILD"

// TestMain runs the child's part when childEnv is set.
func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		os.Exit(child(spec))
	}
	os.Exit(m.Run())
}

// child switches to the uid:gid in spec, creates dir/created, and prints
// its ids and whether it could get root back.
func child(spec string) int {
	uidS, rest, _ := strings.Cut(spec, ":")
	gidS, dir, _ := strings.Cut(rest, ":")
	uid, _ := strconv.Atoi(uidS)
	gid, _ := strconv.Atoi(gidS)
	if err := Switch(Named(uid, gid)); err != nil {
		os.Stdout.WriteString("switch: " + err.Error() + "\n")
		return 3
	}
	if err := os.WriteFile(filepath.Join(dir, "created"), []byte("x"), 0o640); err != nil {
		os.Stdout.WriteString("create: " + err.Error() + "\n")
		return 4
	}
	groups, _ := os.Getgroups()
	os.Stdout.WriteString(strings.Join([]string{
		strconv.Itoa(os.Getuid()), strconv.Itoa(os.Geteuid()), strconv.Itoa(os.Getgid()),
		strconv.Itoa(os.Getegid()), strconv.Itoa(len(groups)),
	}, " ") + "\n")
	return 0
}

// TestSwitch runs a child process as root that switches to nobody: its
// real, effective and saved ids are nobody's, it has no supplementary
// groups, and the file it creates belongs to nobody.
func TestSwitch(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("switching users needs root")
	}
	const uid, gid = 65534, 65534
	// The child's executable and directory must be reachable by nobody.
	dir, err := os.MkdirTemp("", "runas-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+strconv.Itoa(uid)+":"+strconv.Itoa(gid)+":"+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if got, want := strings.TrimSpace(string(out)), "65534 65534 65534 65534 0"; got != want {
		t.Errorf("child uid euid gid egid groups = %q, want %q", got, want)
	}
	fi, err := os.Stat(filepath.Join(dir, "created"))
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != uid || st.Gid != gid {
		t.Errorf("created file owned by %d:%d, want %d:%d", st.Uid, st.Gid, uid, gid)
	}
}

func TestSwitchRefusesRoot(t *testing.T) {
	if err := Switch(User{UID: 0, GID: 0, Name: "root", Group: "root"}); err == nil {
		t.Fatal("Switch to root succeeded, want an error")
	}
}

func TestOwner(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name      string
		paths     []string
		wantPath  string
		wantFound bool
	}{
		{"first existing", []string{missing, dir}, dir, true},
		{"none", []string{missing, missing + "2"}, "", false},
		{"no paths", nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, path, found, err := Owner(tt.paths...)
			if err != nil {
				t.Fatal(err)
			}
			if path != tt.wantPath || found != tt.wantFound {
				t.Errorf("Owner = %q, %v; want %q, %v", path, found, tt.wantPath, tt.wantFound)
			}
			if found && (u.UID != os.Geteuid() || u.Name == "") {
				t.Errorf("owner %+v, want uid %d with a name", u, os.Geteuid())
			}
		})
	}
}

func TestNamedFallsBackToNumbers(t *testing.T) {
	u := Named(2147480001, 2147480002)
	if u.Name != "2147480001" || u.Group != "2147480002" {
		t.Errorf("Named of unknown ids = %+v, want the numbers as names", u)
	}
	if r := Named(0, 0); r.Name != "root" || r.Group != "root" {
		t.Errorf("Named(0, 0) = %+v, want root:root", r)
	}
}
