package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The tests of this file play issue 17: state left by a run as root, and a
// service user who cannot use it. They run the binary as nobody, so they
// need root (CI runs as root).
const nobody = 65534

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the test runs the daemon as nobody against files root made")
	}
}

// openDir returns a new directory that nobody can reach, owned by owner.
func openDir(t *testing.T, owner int) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "falco-reporter-state-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, owner, owner); err != nil {
		t.Fatal(err)
	}
	return dir
}

// writeConfig writes a config readable by everybody.
func writeConfig(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// asNobody makes cmd run as nobody:nogroup with no other groups.
func asNobody(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}}}
}

// rootSpool makes the state a root run of an older version left behind:
// dir/state belongs to nobody, but its spool to root, mode 0700.
func rootSpool(t *testing.T, dir string) string {
	t.Helper()
	state := filepath.Join(dir, "state")
	for _, d := range []string{state, filepath.Join(state, "spool")} {
		if err := os.Mkdir(d, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(state, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(state, "spool"), 0o700); err != nil {
		t.Fatal(err)
	}
	return state
}

// TestUnusableStateInJournal: the daemon, as its user, finds a root-owned
// spool. It must exit 1, and `journalctl -o cat` (MESSAGE only, what
// `journalctl -u` and `systemctl status` show) must name the path, why,
// and the repair.
func TestUnusableStateInJournal(t *testing.T) {
	requireRoot(t)
	requireJournald(t)
	dir := openDir(t, 0)
	state := rootSpool(t, dir)
	cfg := filepath.Join(dir, "c.yaml")
	writeConfig(t, cfg, fmt.Sprintf("falco:\n  http:\n    listen: 127.0.0.1:0\nstate_dir: %s\nreports:\n  dir: %s/reports\nlog:\n  output: journal\n", state, state))
	cmd := exec.Command(binary, "run", "--config", cfg)
	asNobody(cmd)
	cursor := journalCursor(t)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("run: %v, want exit status 1\n%s", err, out)
	}
	want := "falco-reporter stopped: state directory " + state + "/spool: cannot create files in it: permission denied " +
		"(owner root:root, mode 0700); repair: sudo chown -R nobody:nogroup -- " + state
	got := journalCat(t, cursor, cmd.Process.Pid)
	if got != want {
		t.Errorf("journalctl -o cat _PID=%d:\n%s\nwant:\n%s", cmd.Process.Pid, got, want)
	}
	// The repair it names works.
	if err := exec.Command("chown", "-R", "nobody:nogroup", "--", state).Run(); err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(binary, "ingest", "--config", cfg, "-")
	asNobody(cmd)
	cmd.Stdin = strings.NewReader(sample + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("after the repair: %v\n%s", err, out)
	}
}

// TestRootRunCreatesFilesAsOwner: `ingest` as root with a state directory
// that belongs to the service's user writes every file as that user, and
// still reads an input only root can read.
func TestRootRunCreatesFilesAsOwner(t *testing.T) {
	requireRoot(t)
	dir := openDir(t, 0)
	state := filepath.Join(dir, "state")
	if err := os.Mkdir(state, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(state, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	input := filepath.Join(dir, "events.json")
	if err := os.WriteFile(input, []byte(sample+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "c.yaml")
	writeConfig(t, cfg, fmt.Sprintf("state_dir: %s\nreports:\n  dir: %s/reports\njournal:\n  reports: false\nlog:\n  output: console\n", state, state))
	out, errOut, code := runBin(t, "", "ingest", "--config", cfg, input)
	if code != 0 || !strings.Contains(out, "1 alerts") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "started as root: running as nobody:nogroup (uid 65534, gid 65534), the owner of "+state) {
		t.Errorf("stderr does not say whom it runs as:\n%s", errOut)
	}
	n := 0
	err := filepath.WalkDir(state, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		n++
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != nobody || st.Gid != nobody {
			t.Errorf("%s owned by %d:%d, want nobody:nogroup", p, st.Uid, st.Gid)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 6 { // state, spool, its watermark, reports, .lock, a day, its reports
		t.Errorf("only %d paths in the state tree: nothing written?", n)
	}
}

// TestCheckConfigAsService: check-config --as-service, started as root,
// checks as the service's user and names every path it cannot use.
func TestCheckConfigAsService(t *testing.T) {
	requireRoot(t)
	dir := openDir(t, 0)
	state := rootSpool(t, dir)
	pb := filepath.Join(dir, "playbooks")
	if err := os.Mkdir(pb, 0o700); err != nil { // root's only
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "c.yaml")
	writeConfig(t, cfg, fmt.Sprintf("falco:\n  file:\n    path: %s/events.json\nstate_dir: %s\nreports:\n  dir: %s/reports\n  playbooks_dir: %s\n", dir, state, state, pb))

	out, errOut, code := runBin(t, "", "check-config", "--config", cfg, "--as-service", "--user", "nobody")
	if code != 1 {
		t.Errorf("exit %d, want 1\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"checking as nobody:nogroup (uid 65534, gid 65534), the service's user\n",
		"ok    configuration file " + cfg + ": can read it",
		"FAIL  state directory " + state + "/spool: cannot create files in it: permission denied (owner root:root, mode 0700)\n" +
			"      repair: sudo chown -R nobody:nogroup -- " + state + "\n",
		"FAIL  playbooks directory " + pb + ": cannot list and read it: permission denied (owner root:root, mode 0700)\n" +
			"      repair: sudo chgrp -R nogroup -- " + pb + " && sudo chmod -R g+rX -- " + pb + "\n",
		"ok    Falco file output " + dir + "/events.json: missing; waited for\n",
		"note  " + state + ": the service has its own empty /tmp",
		cfg + ": 2 paths the service (nobody) cannot use\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	// After the repairs it names, the same check passes.
	for _, fix := range [][]string{{"chown", "-R", "nobody:nogroup", "--", state}, {"chmod", "0755", pb}} {
		if err := exec.Command(fix[0], fix[1:]...).Run(); err != nil {
			t.Fatal(err)
		}
	}
	out, errOut, code = runBin(t, "", "check-config", "--config", cfg, "--as-service", "--user", "nobody")
	if code != 0 || !strings.Contains(out, cfg+": OK, every path usable by nobody\n") {
		t.Errorf("after the repairs: exit %d\n%s%s", code, out, errOut)
	}
}

// TestCheckConfigAsServiceNeedsRootOrTheUser: as a third user, it cannot
// check as the service and says how to run it.
func TestCheckConfigAsServiceNeedsRootOrTheUser(t *testing.T) {
	requireRoot(t)
	dir := openDir(t, 0)
	cfg := filepath.Join(dir, "c.yaml")
	writeConfig(t, cfg, "state_dir: "+dir+"/state\n")
	cmd := exec.Command(binary, "check-config", "--config", cfg, "--as-service", "--user", "root")
	asNobody(cmd)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 ||
		!strings.Contains(string(out), "--as-service checks as root: run it as root (sudo) or as root") {
		t.Errorf("%v\n%s", err, out)
	}
	_, errOut, code := runBin(t, "", "check-config", "--config", cfg, "--as-service", "--user", "no-such-user-fr")
	if code != 1 || !strings.Contains(errOut, "unknown user no-such-user-fr") {
		t.Errorf("unknown user: exit %d\n%s", code, errOut)
	}
}

// requireJournald skips, or fails with FALCO_REPORTER_REQUIRE_JOURNAL=1,
// unless a journald answers and journalctl is installed.
func requireJournald(t *testing.T) {
	t.Helper()
	_, err := exec.LookPath("journalctl")
	if _, serr := os.Stat("/run/systemd/journal/socket"); err == nil && serr == nil {
		return
	}
	if os.Getenv("FALCO_REPORTER_REQUIRE_JOURNAL") == "1" {
		t.Fatal("no journald: run .ci/journald.sh")
	}
	t.Skip("no journald: run .ci/journald.sh (as root)")
}

// journalCat returns what `journalctl -o cat` shows for the process pid,
// waiting up to 10 s for journald to store it.
// journalCursor is the journal's position now: journalCat reads only
// what comes after it, so an earlier process that had the same PID (PIDs
// are reused within a test run) is not read.
func journalCursor(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "journalctl", "-n", "0", "--show-cursor", "--no-pager").Output()
	if err != nil {
		t.Fatalf("journalctl --show-cursor: %v", err)
	}
	_, c, ok := strings.Cut(string(out), "-- cursor: ")
	if !ok {
		t.Fatalf("journalctl --show-cursor printed no cursor: %q", out)
	}
	return strings.TrimSpace(c)
}

func journalCat(t *testing.T, cursor string, pid int) string {
	t.Helper()
	// journalctl applies no field match together with --after-cursor
	// (it then prints nothing), so read everything after the cursor as
	// JSON and pick the process's own lines here.
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		out, err := exec.CommandContext(ctx, "journalctl", "-o", "json", "--no-pager", "--after-cursor", cursor).Output()
		cancel()
		if err != nil {
			t.Fatalf("journalctl: %v", err)
		}
		var lines []string
		for _, l := range strings.Split(string(out), "\n") {
			var e struct {
				PID     string `json:"_PID"`
				Ident   string `json:"SYSLOG_IDENTIFIER"`
				Message string `json:"MESSAGE"`
			}
			if json.Unmarshal([]byte(l), &e) == nil && e.PID == strconv.Itoa(pid) && e.Ident == "falco-reporter" {
				lines = append(lines, e.Message)
			}
		}
		if s := strings.Join(lines, "\n"); s != "" || time.Now().After(deadline) {
			return s
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestEarlyErrorPriority: an error before the logger exists (a bad config)
// goes to stderr; when stderr is the journal stream, its "<3>" prefix makes
// journald file it at priority err.
func TestEarlyErrorPriority(t *testing.T) {
	for _, stream := range []bool{true, false} {
		t.Run(fmt.Sprintf("journal stream %v", stream), func(t *testing.T) {
			f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			cmd := exec.Command(binary, "run", "--config", "/nonexistent/falco-reporter.yaml")
			cmd.Stderr = f
			if stream {
				fi, err := f.Stat()
				if err != nil {
					t.Fatal(err)
				}
				st := fi.Sys().(*syscall.Stat_t)
				cmd.Env = append(os.Environ(), fmt.Sprintf("JOURNAL_STREAM=%d:%d", st.Dev, st.Ino))
			}
			if err := cmd.Run(); err == nil {
				t.Fatal("run with a missing config succeeded")
			}
			got, err := os.ReadFile(f.Name())
			if err != nil {
				t.Fatal(err)
			}
			want := "falco-reporter: read config: open /nonexistent/falco-reporter.yaml: no such file or directory\n"
			if stream {
				want = "<3>" + want
			}
			if string(got) != want {
				t.Errorf("stderr %q, want %q", got, want)
			}
		})
	}
}
