package rules

import (
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/falco-reporter/falco-reporter/internal/event"
)

// TestContainerPathsResolveInsideTheRoot runs the prologue of a command
// that reads container paths against a directory standing in for the
// container's root (the test puts it where /proc/$pid/root would be):
// absolute and relative links, "..", and a link loop resolve inside that
// root, never on this machine's own root.
func TestContainerPathsResolveInsideTheRoot(t *testing.T) {
	root := t.TempDir()
	mk := func(p, content string) {
		os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755)
		if err := os.WriteFile(filepath.Join(root, p), []byte(content+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ln := func(p, target string) {
		os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755)
		if err := os.Symlink(target, filepath.Join(root, p)); err != nil {
			t.Fatal(err)
		}
	}
	mk("etc/fr-test-file", "in the container")
	mk("usr/bin/tool", "tool in the container")
	mk("dir with space/f", "spaced")
	ln("etc/abs", "/etc/fr-test-file")
	ln("etc/up", "../../../../../../../etc/fr-test-file")
	ln("bin", "usr/bin")
	ln("loop1", "/loop2")
	ln("loop2", "/loop1")
	// A link to a name ending in a newline, next to a link without it:
	// command substitution must not strip the newline and read the link.
	host := filepath.Join(t.TempDir(), "host-secret")
	if err := os.WriteFile(host, []byte("NODE SECRET\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mk("etc/trail\n", "the newline file")
	ln("etc/trail", host)
	ln("etc/via", "trail\n")
	for _, tt := range []struct{ path, want string }{
		{"/etc/fr-test-file", "in the container"},
		{"/etc/abs", "in the container"},
		{"/etc/up", "in the container"},
		{"/etc/../etc/./abs", "in the container"},
		{"/../../etc/fr-test-file", "in the container"},
		{"/bin/tool", "tool in the container"},
		{"/dir with space/f", "spaced"},
		{"/loop1", "more than 40 symbolic links"},
		{"/etc/via", "the newline file"},
	} {
		a := &event.Alert{Fields: event.Fields{"container.id": event.Str("3ad7b26ded6d"), "fd.name": event.Str(tt.path)}}
		c := &Ctx{a: a}
		cmd := "cat -- " + c.ContainerFile("fd.name")
		if c.bad != "" || c.missing {
			t.Fatalf("%s: refused at render: %q", tt.path, c.bad)
		}
		full := inContainer(c, cmd)
		_, rest, _ := strings.Cut(full, "\n")
		script := "pid=1\n" + strings.ReplaceAll(rest, "/proc/$pid/root", root)
		for _, sh := range []string{"bash", "dash"} {
			out, _ := osexec.Command(sh, "-c", script).CombinedOutput()
			if !strings.Contains(string(out), tt.want) || strings.Contains(string(out), "NODE SECRET") {
				t.Errorf("%s: %s printed %q, want %q\n%s", sh, tt.path, out, tt.want, full)
			}
		}
	}
	c := &Ctx{a: &event.Alert{Fields: event.Fields{"container.id": event.Str("3ad7b26ded6d"), "fd.name": event.Str("etc/x")}}}
	c.ContainerFile("fd.name")
	if c.bad == "" {
		t.Error("a relative path was accepted as a container path")
	}
}
