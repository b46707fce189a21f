package systemdunit

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// repoRoot is the repository root seen from this package's directory, where
// go test runs.
const repoRoot = "../.."

// unitPath is the shipped service unit.
var unitPath = filepath.Join(repoRoot, "systemd", "falco-reporter.service")

// requireTool returns the path of name, or skips the test when it is not
// installed, unless FALCO_REPORTER_REQUIRE_SYSTEMD=1 asks for a failure.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("FALCO_REPORTER_REQUIRE_SYSTEMD") == "1" {
		t.Fatalf("%s not found and FALCO_REPORTER_REQUIRE_SYSTEMD=1: %v", name, err)
	}
	t.Skipf("%s not installed (install Debian's systemd package; FALCO_REPORTER_REQUIRE_SYSTEMD=1 makes this a failure)", name)
	return ""
}

// run runs a command with a deadline and returns its combined output.
func run(t *testing.T, dir string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	// SYSTEMD_COLORS and SYSTEMD_PAGER keep systemd tools' output plain.
	cmd.Env = append(os.Environ(), "SYSTEMD_COLORS=0", "SYSTEMD_PAGER=", "SYSTEMD_LOG_COLOR=0")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// readFile returns the content of a repository file.
func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return string(b)
}

// writeFile writes content to path with mode perm, creating parent directories.
func writeFile(t *testing.T, path, content string, perm os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatalf("mkdir for %s: %v", path, err)
	}
	if err := os.WriteFile(path, []byte(content), perm); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	// WriteFile leaves the mode of an existing file and obeys the umask.
	if err := os.Chmod(path, perm); err != nil {
		t.Fatalf("chmod %s: %v", path, err)
	}
}

// unitFile is a parsed unit file: section -> key -> values in file order.
type unitFile map[string]map[string][]string

// parseUnit reads the key=value lines of a unit file. It is enough for the
// files in systemd/: no line continuations, comments on their own lines.
func parseUnit(t *testing.T, content string) unitFile {
	t.Helper()
	u := unitFile{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader([]byte(content)))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "", strings.HasPrefix(line, "#"), strings.HasPrefix(line, ";"):
			continue
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
			if u[section] == nil {
				u[section] = map[string][]string{}
			}
			continue
		case strings.HasSuffix(line, "\\"):
			t.Fatalf("line %d: continuation lines are not supported by this parser", n)
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok || section == "" {
			t.Fatalf("line %d: not a key=value line in a section: %q", n, line)
		}
		u[section][key] = append(u[section][key], value)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("scan unit: %v", err)
	}
	return u
}
