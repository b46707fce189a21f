package systemdunit

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// makeInstall runs `make install` from the repository root into destdir with
// a stand-in binary, so no Go build is needed.
func makeInstall(t *testing.T, destdir string, vars ...string) {
	t.Helper()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make not installed")
	}
	tmp := t.TempDir()
	bin := fakeBinary(t, tmp)
	readme := filepath.Join(tmp, "README.md")
	writeFile(t, readme, "# falco-reporter\n", 0o644)
	args := append([]string{"--no-print-directory", "-s", "install",
		"DESTDIR=" + destdir, "BIN=" + bin, "EVIDENCE_BIN=" + bin, "README_SRC=" + readme}, vars...)
	if out, err := run(t, repoRoot, "make", args...); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
}

func TestMakeInstall(t *testing.T) {
	dest := t.TempDir()
	makeInstall(t, dest, "PREFIX=/usr")

	files := []struct {
		path string
		mode os.FileMode
	}{
		{"usr/bin/falco-reporter", 0o755},
		{"lib/systemd/system/falco-reporter.service", 0o644},
		{"usr/bin/falco-reporter-evidence", 0o755},
		{"lib/systemd/system/falco-reporter-evidence.service", 0o644},
		{"lib/systemd/system/falco-reporter-evidence.socket", 0o644},
		{"usr/lib/sysusers.d/falco-reporter.conf", 0o644},
		{"usr/lib/tmpfiles.d/falco-reporter.conf", 0o644},
		{"etc/falco-reporter/falco-reporter.yaml", 0o640},
		{"usr/share/doc/falco-reporter/README.md", 0o644},
		{"usr/share/doc/falco-reporter/systemd.md", 0o644},
		{"usr/share/doc/falco-reporter/falco-socket-access.conf", 0o644},
	}
	for _, f := range files {
		t.Run(f.path, func(t *testing.T) {
			fi, err := os.Stat(filepath.Join(dest, f.path))
			if err != nil {
				t.Fatalf("not installed: %v", err)
			}
			if fi.Mode().Perm() != f.mode {
				t.Errorf("mode %o, want %o", fi.Mode().Perm(), f.mode)
			}
		})
	}

	t.Run("unit installed unchanged for PREFIX=/usr", func(t *testing.T) {
		got := readFile(t, filepath.Join(dest, "lib/systemd/system/falco-reporter.service"))
		if got != readFile(t, unitPath) {
			t.Error("installed unit differs from systemd/falco-reporter.service")
		}
	})

	t.Run("existing config is kept", func(t *testing.T) {
		cfg := filepath.Join(dest, "etc/falco-reporter/falco-reporter.yaml")
		writeFile(t, cfg, "# edited\n", 0o600)
		makeInstall(t, dest, "PREFIX=/usr")
		if got := readFile(t, cfg); got != "# edited\n" {
			t.Errorf("second install replaced the config: %q", got)
		}
	})
}

func TestMakeInstallPrefix(t *testing.T) {
	dest := t.TempDir()
	makeInstall(t, dest, "PREFIX=/usr/local")

	if _, err := os.Stat(filepath.Join(dest, "usr/local/bin/falco-reporter")); err != nil {
		t.Fatalf("binary not under PREFIX: %v", err)
	}
	unit := parseUnit(t, readFile(t, filepath.Join(dest, "lib/systemd/system/falco-reporter.service")))
	got := unit["Service"]["ExecStart"]
	if len(got) != 1 || !strings.HasPrefix(got[0], "/usr/local/bin/falco-reporter ") {
		t.Errorf("ExecStart=%q, want the binary under /usr/local/bin", got)
	}
}
