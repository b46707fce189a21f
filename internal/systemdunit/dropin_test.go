package systemdunit

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// dropInScript returns the shell script of the drop-in's key (ExecStartPre or
// ExecStartPost) as systemd would pass it to /bin/sh -c: quotes removed, $$
// unescaped, and /run/falco and the group replaced for a test.
func dropInScript(t *testing.T, key, dir string, gid int) string {
	t.Helper()
	u := parseUnit(t, readFile(t, filepath.Join(repoRoot, "systemd", "falco-socket-access.conf")))
	values := u["Service"][key]
	if len(values) != 1 {
		t.Fatalf("drop-in has %d %s= lines, want 1", len(values), key)
	}
	line := values[0]
	const prefix, suffix = "-/bin/sh -c '", "'"
	if !strings.HasPrefix(line, prefix) || !strings.HasSuffix(line, suffix) {
		t.Fatalf("%s=%s: want the form %s...%s (the leading - keeps a failure from failing Falco)", key, line, prefix, suffix)
	}
	script := strings.TrimSuffix(strings.TrimPrefix(line, prefix), suffix)
	if strings.Contains(script, "'") || strings.Contains(script, "%") {
		t.Fatalf("%s: quotes or %% specifiers inside the script are not handled by this test", key)
	}
	script = strings.ReplaceAll(script, "$$", "$")
	script = strings.ReplaceAll(script, "/run/falco", dir)
	return strings.ReplaceAll(script, "chgrp falco-reporter ", "chgrp "+strconv.Itoa(gid)+" ")
}

// runScript runs a shell script with a deadline.
func runScript(t *testing.T, script string) (time.Duration, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	out, err := exec.CommandContext(ctx, "/bin/sh", "-c", script).CombinedOutput()
	if len(out) > 0 {
		t.Logf("script output: %s", out)
	}
	return time.Since(start), err
}

// socketDir makes a short directory (unix socket paths are limited to 108
// bytes) with mode 0700, as Falco's UMask=0077 would.
func socketDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "frsock")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

// listenFalco creates the socket root-only like Falco does, after delay, and
// reports on the returned channel when it is in place. It binds under another
// name and renames the socket into place, so the script never sees it before
// its mode is 0700. The listener is closed when the test ends.
func listenFalco(t *testing.T, path string, delay time.Duration) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	lns := make(chan net.Listener, 1)
	go func() {
		defer close(lns)
		time.Sleep(delay)
		tmp := path + ".new"
		ln, err := net.Listen("unix", tmp)
		if err != nil {
			done <- err
			return
		}
		lns <- ln
		if err := os.Chmod(tmp, 0o700); err != nil {
			done <- err
			return
		}
		done <- os.Rename(tmp, path)
	}()
	t.Cleanup(func() {
		for ln := range lns {
			ln.Close()
		}
	})
	return done
}

// testGID is the group the scripts hand the socket to: one we are not in
// already when root (so the change is visible), else our own (chgrp to
// another group needs root).
func testGID() int {
	if os.Geteuid() == 0 {
		return 4242
	}
	return os.Getgid()
}

func TestDropInOpensSocket(t *testing.T) {
	tests := []struct {
		name  string
		delay time.Duration
	}{
		{name: "socket already there", delay: 0},
		{name: "socket appears while waiting", delay: 700 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := socketDir(t)
			sock := filepath.Join(dir, "falco.sock")
			gid := testGID()
			listened := listenFalco(t, sock, tc.delay)
			if tc.delay == 0 {
				if err := <-listened; err != nil {
					t.Fatalf("listen: %v", err)
				}
			}
			if _, err := runScript(t, dropInScript(t, "ExecStartPost", dir, gid)); err != nil {
				t.Fatalf("ExecStartPost script: %v", err)
			}
			if tc.delay != 0 {
				if err := <-listened; err != nil {
					t.Fatalf("listen: %v", err)
				}
			}
			checkMode(t, sock, os.ModeSocket|0o660, gid)
			checkMode(t, dir, os.ModeDir|0o710, gid)
		})
	}
}

func TestDropInGivesUp(t *testing.T) {
	dir := socketDir(t)
	script := dropInScript(t, "ExecStartPost", dir, testGID())
	// 300 rounds of 0.2 s are the 60 s bound; 5 rounds keep the test short.
	const bound = `-lt 300`
	if !strings.Contains(script, bound) {
		t.Fatalf("script has no %q loop bound:\n%s", bound, script)
	}
	took, err := runScript(t, strings.Replace(script, bound, "-lt 5", 1))
	if err != nil {
		t.Errorf("without a socket the script must still exit 0, got %v", err)
	}
	if took > 10*time.Second {
		t.Errorf("script took %v to give up", took)
	}
	checkMode(t, dir, os.ModeDir|0o700, os.Getgid())
}

func TestDropInRemovesStaleSocket(t *testing.T) {
	tests := []struct {
		name     string
		make     func(t *testing.T, path string)
		wantGone bool
	}{
		{
			name: "stale socket is removed",
			make: func(t *testing.T, path string) {
				ln, err := net.Listen("unix", path)
				if err != nil {
					t.Fatal(err)
				}
				// A socket file outlives its listener when not unlinked.
				ln.(*net.UnixListener).SetUnlinkOnClose(false)
				ln.Close()
			},
			wantGone: true,
		},
		{
			name: "a regular file is left alone",
			make: func(t *testing.T, path string) { writeFile(t, path, "x", 0o600) },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := socketDir(t)
			path := filepath.Join(dir, "falco.sock")
			tc.make(t, path)
			if _, err := runScript(t, dropInScript(t, "ExecStartPre", dir, testGID())); err != nil {
				t.Fatalf("ExecStartPre script: %v", err)
			}
			_, err := os.Lstat(path)
			if gone := os.IsNotExist(err); gone != tc.wantGone {
				t.Errorf("gone=%v (stat err %v), want %v", gone, err, tc.wantGone)
			}
		})
	}
}

// checkMode fails unless path has exactly mode (type and permission bits) and
// group gid.
func checkMode(t *testing.T, path string, mode os.FileMode, gid int) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if got := fi.Mode() & (os.ModeType | os.ModePerm); got != mode || int(st.Gid) != gid {
		t.Errorf("%s: mode %v group %d, want %v group %d", path, got, st.Gid, mode, gid)
	}
}
