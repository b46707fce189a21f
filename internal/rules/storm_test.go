package rules_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/render"
	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/rules"
)

// stormSample is a storm of a rule whose values an intruder chose.
func stormSample() rules.Storm {
	first := time.Date(2026, 4, 2, 10, 0, 5, 123, time.UTC)
	return rules.Storm{
		First: &event.Alert{Time: first, Priority: event.PriorityWarning, Rule: "Read sensitive file untrusted", Source: "syscall",
			Hostname: "web-1", Output: "o", Tags: []string{"T1555", "mitre_credential_access"},
			Fields: event.Fields{"fd.name": event.Str("/etc/decoy-0051"), "proc.exepath": event.Str("/tmp/`x`\x1b[31m"), "container.id": event.Str("host")}},
		Priority: event.PriorityCritical, Count: 99949, FirstSeen: first, LastSeen: first.Add(95 * time.Second),
		Threshold: 50, Window: time.Minute,
		Fields: []report.StormField{
			{Field: "fd.name", Values: []report.ValueCount{{Value: "/etc/decoy-0051", Count: 2}, {Value: "/etc/decoy-``|sh", Count: 1}},
				Recent: []string{"/etc/decoy-99998", "/etc/shadow\n# fake heading"}, Distinct: 1000, DistinctAtLeast: true, OtherAlerts: 99947},
		},
		Before: []report.IncidentRef{
			{ID: "0000000000020a1b", Path: "2026-04-02/20260402T100000Z-warning-read-sensitive-file-untrusted-0000000000020a1b.md", FirstSeen: report.Time{Time: first.Add(-5 * time.Second)}},
		},
	}
}

// TestStormReport compares the storm report with its golden files
// (testdata/storm/), regenerated with -update.
func TestStormReport(t *testing.T) {
	r := rules.StormReport(stormSample())
	r.ID = "golden"
	js, err := render.JSON(&r)
	if err != nil {
		t.Fatal(err)
	}
	md := render.Markdown(&r)
	compare(t, filepath.Join("testdata/storm", "storm.md"), md)
	compare(t, filepath.Join("testdata/storm", "storm.json"), js)
	if r.Handler != report.HandlerStorm || r.Occurrences != 99949 || r.Priority != "Critical" || r.Storm == nil || len(r.Storm.Before) != 1 {
		t.Errorf("report = %+v", r)
	}
	for _, bad := range []string{"\x1b", "\n# fake heading"} {
		if strings.Contains(string(md), bad) {
			t.Errorf("Markdown contains %q", bad)
		}
	}
}

// TestStormCommandsRun runs each command of the storm report under bash
// and dash, with stub tools, to prove it parses and quotes as meant.
func TestStormCommandsRun(t *testing.T) {
	r := rules.StormReport(stormSample())
	stubs := t.TempDir()
	for _, tool := range []string{"ps", "journalctl", "head", "tail"} {
		writeStub(t, filepath.Join(stubs, tool), tool)
	}
	for _, sh := range []string{"bash", "dash"} {
		if _, err := exec.LookPath(sh); err != nil {
			t.Logf("%s not installed", sh)
			continue
		}
		for _, s := range r.Investigation {
			if s.Command == "" {
				continue
			}
			cmd := exec.Command(sh, "-c", s.Command)
			cmd.Env = []string{"PATH=" + stubs}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Errorf("%s -c %q: %v\n%s", sh, s.Command, err, out)
			}
		}
	}
}

func writeStub(t *testing.T, path, name string) {
	t.Helper()
	script := "#!/bin/sh\nprintf '%s' '" + name + "' >/dev/null\nfor a; do :; done\n"
	if err := writeExec(path, script); err != nil {
		t.Fatal(err)
	}
}

func writeExec(path, s string) error {
	return os.WriteFile(path, []byte(s), 0o755)
}
