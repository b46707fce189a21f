package rules

import (
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/falco-reporter/falco-reporter/internal/event"
)

// TestContainerFileRefusesLinks runs the prologue of a command that reads a
// container path, with the container's process replaced by the test's own
// shell (so /proc/$pid/root is this machine's root): a path through a
// symbolic link, absolute or relative, is refused; a plain path is read.
func TestContainerFileRefusesLinks(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, []byte("content\n"), 0o600)
	os.Symlink("/etc/hostname", filepath.Join(dir, "abs"))
	os.Mkdir(filepath.Join(dir, "sub"), 0o700)
	os.Symlink("../../../../../../etc", filepath.Join(dir, "sub", "up"))
	os.WriteFile(filepath.Join(dir, "sp ace"), []byte("spaced\n"), 0o600)
	for _, tt := range []struct {
		path, want string
	}{
		{plain, "content"},
		{filepath.Join(dir, "sp ace"), "spaced"},
		{filepath.Join(dir, "abs"), "is a symbolic link inside container"},
		{filepath.Join(dir, "sub", "up", "hostname"), "is a symbolic link inside container"},
	} {
		a := &event.Alert{Fields: event.Fields{"container.id": event.Str("3ad7b26ded6d"), "fd.name": event.Str(tt.path)}}
		c := &Ctx{a: a}
		cmd := "cat -- " + c.ContainerFile("fd.name")
		if c.bad != "" || c.missing {
			t.Fatalf("%s: refused at render: %q", tt.path, c.bad)
		}
		full := inContainer(c, cmd)
		first, rest, _ := strings.Cut(full, "\n")
		if !strings.HasPrefix(first, "pid=$(") {
			t.Fatalf("prologue: %q", first)
		}
		for _, sh := range []string{"bash", "dash"} {
			out, _ := osexec.Command(sh, "-c", "pid=$$\n"+rest).CombinedOutput()
			if !strings.Contains(string(out), tt.want) {
				t.Errorf("%s: %s printed %q, want %q\n%s", sh, tt.path, out, tt.want, full)
			}
		}
	}
	for _, bad := range []string{"etc/x", "/etc/../x", "/./x"} {
		c := &Ctx{a: &event.Alert{Fields: event.Fields{"container.id": event.Str("3ad7b26ded6d"), "fd.name": event.Str(bad)}}}
		c.ContainerFile("fd.name")
		if c.bad == "" {
			t.Errorf("%q was accepted as a container path", bad)
		}
	}
}
