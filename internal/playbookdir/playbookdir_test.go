package playbookdir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/rules"
)

func TestUserPlaybookOverridesBuiltin(t *testing.T) {
	dir := t.TempDir()
	pb := `playbooks:
  - rule: Terminal shell in container
    fields: [proc.name]
    title: 'Our own title {{.V "proc.name"}}'
    summary: s
    why: w
    facts: [{label: Shell, field: proc.name}]
    investigation: [{text: look}]
    false_positives: [{text: none}]
    remediation: [{text: fix}]
`
	if err := os.WriteFile(filepath.Join(dir, "ours.yaml"), []byte(pb), 0o600); err != nil {
		t.Fatal(err)
	}
	base := rules.Default()
	table, err := Load(base, dir)
	if err != nil {
		t.Fatal(err)
	}
	a := &event.Alert{Rule: "Terminal shell in container", Source: "syscall", Fields: event.Fields{"proc.name": event.Str("bash")}}
	r, _ := table.Build(a)
	if r.Title.String() != "Our own title bash" {
		t.Errorf("title = %q", r.Title)
	}
	if r2, _ := base.Build(a); r2.Title.String() == r.Title.String() {
		t.Error("the base table was changed")
	}
	if e, _ := table.Lookup("syscall", "Terminal shell in container"); e.Origin != filepath.Join(dir, "ours.yaml") {
		t.Errorf("origin = %q", e.Origin)
	}
}

func TestLoadErrors(t *testing.T) {
	base := rules.Default()
	if _, err := Load(base, filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing directory is accepted")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte("playbooks:\n  - rule: x\n    titel: y\n"), 0o600)
	_, err := Load(base, dir)
	if err == nil || !strings.Contains(err.Error(), "bad.yaml") || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("err = %v, want the file and line", err)
	}
	if same, err := Load(base, ""); err != nil || same != base {
		t.Error("an empty directory setting must return the built-in table")
	}
}
