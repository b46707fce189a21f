package rules

import (
	"os"
	"strings"
	"testing"

	"github.com/falco-reporter/falco-reporter/internal/event"
)

// TestREADMEPlaybookExample loads the worked example of the README's
// "Custom playbooks" section, so that the documentation cannot rot.
func TestREADMEPlaybookExample(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "## Custom playbooks")
	if !ok {
		t.Fatal("README has no Custom playbooks section")
	}
	_, block, ok := strings.Cut(section, "```yaml\n")
	if !ok {
		t.Fatal("no yaml example in the Custom playbooks section")
	}
	block, _, _ = strings.Cut(block, "```")
	pbs, err := LoadPlaybooks("README.md", []byte(block))
	if err != nil {
		t.Fatal(err)
	}
	table := NewTable(Generic)
	table.AddPlaybook(pbs[0], "README.md")
	a := &event.Alert{Rule: pbs[0].Spec.Rule, Source: "syscall", Fields: event.Fields{
		"proc.name": event.Str("xmrig"), "proc.exepath": event.Str("/tmp/xmrig"), "proc.cmdline": event.Str("xmrig -o pool:3333"),
		"fd.rip": event.Str("198.51.100.9"), "fd.rport": event.Str("3333"), "user.name": event.Str("www-data"), "container.id": event.Str("host"),
	}}
	r, err := table.Build(a)
	if err != nil || r.Handler != "dedicated" || !strings.Contains(r.Title.String(), "198.51.100.9") {
		t.Errorf("report from the README example: %v %+v", err, r.Title)
	}
}
