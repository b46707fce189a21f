package pathcheck

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/falco-reporter/falco-reporter/internal/runas"
)

// Permission checks need a user the kernel says no to. Run as root, the
// test binary runs TestPermissions again in a child that becomes nobody
// (asEnv) on the tree the parent built (treeEnv); run as anybody else, it
// checks as itself.
const (
	asEnv   = "PATHCHECK_TEST_AS"
	treeEnv = "PATHCHECK_TEST_TREE"
	nobody  = 65534
)

func TestMain(m *testing.M) {
	if spec := os.Getenv(asEnv); spec != "" {
		uid, _ := strconv.Atoi(spec)
		if err := runas.Switch(runas.Named(uid, uid)); err != nil {
			os.Stderr.WriteString("switch: " + err.Error() + "\n")
			os.Exit(3)
		}
	}
	os.Exit(m.Run())
}

// permTree builds, in a new directory every user can search, a state tree
// in which the checking user (uid) owns what it may use, and other paths
// are closed by their mode, which holds for root's files as much as for
// the user's own.
func permTree(t *testing.T, uid int) string {
	t.Helper()
	base, err := os.MkdirTemp("", "pathcheck-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	mkTree(t, base,
		"state/spool/00000000000000000001.seg", "state/reports/2026-04-02/r.md", "state/reports/.lock",
		"closed/secret.yaml", "etc/c.yaml", "etc/tls/c.key", "etc/tls/c.crt", "ro-parent/",
	)
	if err := filepath.WalkDir(base, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, uid)
	}); err != nil {
		t.Fatal(err)
	}
	modes := []struct {
		path string
		mode fs.FileMode
	}{
		{".", 0o755},
		{"state", 0o750},
		{"state/spool", 0o500}, // cannot take new segments
		{"state/spool/00000000000000000001.seg", 0o400}, // cannot be appended to
		{"state/reports/.lock", 0o640},
		{"closed", 0o000}, // hides what is inside
		{"ro-parent", 0o500},
	}
	for _, m := range modes {
		if err := os.Chmod(filepath.Join(base, m.path), m.mode); err != nil {
			t.Fatal(err)
		}
	}
	// Let the cleanup delete what the modes closed.
	t.Cleanup(func() {
		_ = filepath.WalkDir(base, func(p string, d fs.DirEntry, _ error) error {
			_ = os.Chmod(p, 0o700)
			return nil
		})
	})
	sock, err := net.Listen("unix", filepath.Join(base, "etc/falco.sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sock.Close() })
	// Root owns the socket (Falco's default), the config and the key, and
	// keeps them from the user; a user closes its own by their modes.
	for _, f := range []struct {
		path string
		mode fs.FileMode
	}{{"etc/falco.sock", 0o600}, {"etc/c.yaml", 0o640}, {"etc/tls/c.key", 0o600}} {
		full := filepath.Join(base, f.path)
		if os.Geteuid() != 0 {
			_ = os.Chmod(full, 0)
			continue
		}
		if err := os.Lchown(full, 0, 0); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(full, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	return base
}

func TestPermissions(t *testing.T) {
	base := os.Getenv(treeEnv)
	if os.Geteuid() == 0 && base == "" {
		// The parent: build the tree for nobody and check as nobody.
		base = permTree(t, nobody)
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(exe, "-test.run=^TestPermissions$", "-test.v")
		cmd.Env = append(os.Environ(), asEnv+"="+strconv.Itoa(nobody), treeEnv+"="+base)
		out, err := cmd.CombinedOutput()
		t.Logf("as nobody:\n%s", out)
		if err != nil {
			t.Fatalf("checks as nobody failed: %v", err)
		}
		return
	}
	if base == "" {
		base = permTree(t, os.Geteuid())
	}
	who := runas.Current()
	// Fixes for files that root keeps from the user, when root built the tree.
	chgrp, chown, sock := "", "", ""
	if os.Getenv(treeEnv) != "" {
		sock = socketDropIn
		chgrp = "sudo chgrp " + who.Group + " -- " + filepath.Join(base, "etc/c.yaml") + " && sudo chmod g+r -- " + filepath.Join(base, "etc/c.yaml")
		chown = "sudo chown " + who.Name + " -- " + filepath.Join(base, "etc/tls/c.key") + " && sudo chmod 0400 -- " + filepath.Join(base, "etc/tls/c.key")
	}
	p := func(rel string) string { return filepath.Join(base, rel) }
	state := p("state")
	// Whoever owns state/spool: the user itself (a mode to fix) or root.
	own := "sudo chmod -R u+rwX -- " + state
	items := []Item{
		{Role: "state directory", Path: state, Access: WriteDir, Optional: true, Root: state},
		{Role: "state directory", Path: p("state/spool"), Access: WriteDir, Root: state},
		{Role: "state file", Path: p("state/spool/00000000000000000001.seg"), Access: Write, Root: state},
		{Role: "reports lock", Path: p("state/reports/.lock"), Access: Write, Root: state},
		{Role: "reports directory", Path: p("state/reports/2026-04-02"), Access: WriteDir, Root: state},
		{Role: "state directory", Path: p("ro-parent/new"), Access: WriteDir, Optional: true, Root: p("ro-parent/new")},
		{Role: "configuration file", Path: p("etc/c.yaml"), Access: Read},
		{Role: "gRPC client key", Path: p("etc/tls/c.key"), Access: Read},
		{Role: "gRPC client certificate", Path: p("etc/tls/c.crt"), Access: Read},
		{Role: "playbook", Path: p("closed/secret.yaml"), Access: Read},
		{Role: "Falco file output", Path: p("closed/later.json"), Access: Read, Optional: true},
		{Role: "Falco file output", Path: p("etc/absent.json"), Access: Read, Optional: true},
		{Role: "Falco gRPC socket", Path: p("etc/falco.sock"), Access: Connect, Optional: true},
		{Role: "playbooks directory", Path: p("etc/c.yaml"), Access: List},
	}
	tests := []struct {
		ok     bool
		fix    string
		inLine string
	}{
		{ok: true, inLine: "can create files in it"},
		{fix: own, inLine: "cannot create files in it: permission denied"},
		{fix: own, inLine: "cannot read and write it: permission denied"},
		{ok: true},
		{ok: true},
		{fix: "sudo install -d -o " + who.Name + " -g " + who.Group + " -m 0750 -- " + p("ro-parent/new"),
			inLine: "missing, and cannot be created: " + p("ro-parent") + " is not writable by " + who.Name},
		{fix: chgrp, inLine: "cannot read it: permission denied"},
		{fix: chown, inLine: "cannot read it: permission denied"},
		{ok: true, inLine: "can read it"},
		{inLine: "directory " + p("closed") + " is not searchable by " + who.Name},
		// Whether it exists cannot be told: it is behind the same directory.
		{inLine: "cannot read it: permission denied (directory " + p("closed") + " is not searchable by " + who.Name},
		{ok: true, inLine: "missing; waited for"},
		{fix: sock, inLine: "cannot connect to it: permission denied"},
		{inLine: "cannot list and read it: not a directory"},
	}
	results := Check(items)
	if len(results) != len(tests) {
		t.Fatalf("%d results for %d items", len(results), len(items))
	}
	for i, tt := range tests {
		r := results[i]
		t.Run(strings.TrimPrefix(r.Path, base), func(t *testing.T) {
			t.Log(r.Line(), "| fix:", r.Fix)
			if r.OK() != tt.ok {
				t.Errorf("OK() = %v (err %v), want %v", r.OK(), r.Err, tt.ok)
			}
			if r.Fix != tt.fix {
				t.Errorf("fix %q, want %q", r.Fix, tt.fix)
			}
			if !strings.Contains(r.Line(), tt.inLine) {
				t.Errorf("line %q lacks %q", r.Line(), tt.inLine)
			}
		})
	}
	err := Usable(results)
	var perr *Error
	if !errors.As(err, &perr) || len(perr.Failed) != 9 {
		t.Fatalf("Usable = %v, want an *Error with 9 paths", err)
	}
	if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "; and 6 more; repair: "+own+" ; ") {
		t.Errorf("Error() = %q, want one line naming 3 paths, the count, then the repairs", msg)
	}
	if Usable(results[:1]) != nil {
		t.Error("Usable of a usable path is not nil")
	}
}
