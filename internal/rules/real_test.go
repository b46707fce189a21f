package rules_test

import (
	"strings"
	"testing"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/render"
	"github.com/falco-reporter/falco-reporter/internal/rules"
)

// TestRealAlerts builds and renders a report for every real published
// alert in testdata/real (see SOURCES.md there): each parses, its report
// has every section, rules with a playbook use it, and nothing raw leaks.
func TestRealAlerts(t *testing.T) {
	table := rules.Default()
	for n, line := range readLines(t, "testdata/real/samples.jsonl") {
		a, err := event.ParseJSON(line)
		if err != nil {
			t.Fatalf("line %d: %v", n+1, err)
		}
		t.Run(a.Rule, func(t *testing.T) {
			r, err := table.Build(&a)
			if err != nil {
				t.Fatal(err)
			}
			_, dedicated := table.Lookup(a.Source, a.Rule)
			if dedicated != (r.Handler == "dedicated") {
				t.Errorf("handler %q, playbook present: %v", r.Handler, dedicated)
			}
			if len(r.Title) == 0 || len(r.Summary) == 0 || len(r.Investigation) == 0 || len(r.Remediation) == 0 {
				t.Errorf("empty section in %+v", r)
			}
			md := string(render.Markdown(&r))
			if strings.ContainsAny(md, "\x00\x01\x1b") {
				t.Error("raw control character in the report")
			}
			if strings.Contains(md, "playbook error") {
				t.Errorf("a playbook template failed:\n%s", md)
			}
		})
	}
}
