package systemdunit

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestSysusersTmpfiles applies the sysusers.d and tmpfiles.d files to an empty
// root directory with the real tools and checks the owners and modes they
// produce, as the package's postinstall does on a real system.
func TestSysusersTmpfiles(t *testing.T) {
	sysusers := requireTool(t, "systemd-sysusers")
	tmpfiles := requireTool(t, "systemd-tmpfiles")
	if os.Geteuid() != 0 {
		t.Skip("systemd-tmpfiles needs root to chown; run as root to test ownership")
	}

	root := t.TempDir()
	writeFile(t, filepath.Join(root, "usr/lib/sysusers.d/falco-reporter.conf"),
		readFile(t, filepath.Join(repoRoot, "systemd/falco-reporter.sysusers")), 0o644)
	writeFile(t, filepath.Join(root, "usr/lib/tmpfiles.d/falco-reporter.conf"),
		readFile(t, filepath.Join(repoRoot, "systemd/falco-reporter.tmpfiles")), 0o644)
	// The package's config file exists before tmpfiles runs, root-owned.
	writeFile(t, filepath.Join(root, "etc/falco-reporter/falco-reporter.yaml"), "{}\n", 0o644)
	// State that a run as root left (issue 17): a spool only root can
	// enter, a segment in it, a root file elsewhere and a symlink to it.
	writeFile(t, filepath.Join(root, "var/lib/falco-reporter/spool/00000000000000000001.seg"), "x", 0o600)
	if err := os.Chmod(filepath.Join(root, "var/lib/falco-reporter/spool"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, "etc/root-only"), "secret", 0o600)
	if err := os.Symlink(filepath.Join(root, "etc/root-only"), filepath.Join(root, "var/lib/falco-reporter/spool/link")); err != nil {
		t.Fatal(err)
	}

	// With --root both tools read their config and /etc/passwd inside root.
	if out, err := run(t, "", sysusers, "--root="+root, "falco-reporter.conf"); err != nil {
		t.Fatalf("systemd-sysusers: %v\n%s", err, out)
	}
	if out, err := run(t, "", tmpfiles, "--root="+root, "--create", "falco-reporter.conf"); err != nil {
		t.Fatalf("systemd-tmpfiles: %v\n%s", err, out)
	}

	uid, gid := lookupUser(t, root, "falco-reporter")
	home := passwdField(t, root, "falco-reporter", 5)
	if home != "/var/lib/falco-reporter" {
		t.Errorf("home %q, want /var/lib/falco-reporter", home)
	}

	tests := []struct {
		path     string
		mode     os.FileMode
		uid, gid int
	}{
		{"var/lib/falco-reporter", 0o750, uid, gid},
		{"var/lib/falco-reporter/reports", 0o750, uid, gid},
		{"etc/falco-reporter", 0o750, 0, gid},
		{"etc/falco-reporter/tls", 0o750, 0, gid},
		{"etc/falco-reporter/falco-reporter.yaml", 0o640, 0, gid},
		// Z hands root's leftovers back, modes unchanged...
		{"var/lib/falco-reporter/spool", 0o700, uid, gid},
		{"var/lib/falco-reporter/spool/00000000000000000001.seg", 0o600, uid, gid},
		// ...and never what a symlink in the tree points to.
		{"etc/root-only", 0o600, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			fi, err := os.Lstat(filepath.Join(root, tc.path))
			if err != nil {
				t.Fatalf("stat: %v", err)
			}
			st := fi.Sys().(*syscall.Stat_t)
			if fi.Mode().Perm() != tc.mode || int(st.Uid) != tc.uid || int(st.Gid) != tc.gid {
				t.Errorf("got %o %d:%d, want %o %d:%d", fi.Mode().Perm(), st.Uid, st.Gid, tc.mode, tc.uid, tc.gid)
			}
		})
	}
}

// passwdField returns field i (0-based) of user's line in root/etc/passwd.
func passwdField(t *testing.T, root, user string, i int) string {
	t.Helper()
	for line := range strings.Lines(readFile(t, filepath.Join(root, "etc/passwd"))) {
		f := strings.Split(strings.TrimSpace(line), ":")
		if len(f) == 7 && f[0] == user {
			return f[i]
		}
	}
	t.Fatalf("user %s not in %s/etc/passwd", user, root)
	return ""
}

// lookupUser returns the uid and gid of user in root/etc/passwd.
func lookupUser(t *testing.T, root, user string) (int, int) {
	t.Helper()
	uid, err := strconv.Atoi(passwdField(t, root, user, 2))
	if err != nil {
		t.Fatalf("uid of %s: %v", user, err)
	}
	gid, err := strconv.Atoi(passwdField(t, root, user, 3))
	if err != nil {
		t.Fatalf("gid of %s: %v", user, err)
	}
	return uid, gid
}
