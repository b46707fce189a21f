package rules

import (
	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/report"
)

// SidekickTestRule is the rule name of falcosidekick's test alert, which it
// sends to every output when someone calls its /test endpoint (source
// internal, tags test and example).
const SidekickTestRule = "Test rule"

// SidekickTest reports falcosidekick's test alert: proof that alerts get
// from falcosidekick to falco-reporter, not an incident.
func SidekickTest(a *event.Alert) report.Report {
	return report.Report{
		Handler: report.HandlerDedicated,
		Title:   report.Plain("Test alert received from falcosidekick"),
		Summary: report.Text{{S: "falcosidekick's test alert arrived from "}, {S: a.Hostname, Value: true},
			{S: ": alerts reach falco-reporter through falcosidekick. This is not a security incident."}},
		Why: report.Plain("Nothing happened on any host: falcosidekick sends this alert to all its outputs when its /test endpoint is called, to check them."),
		FalsePositives: []report.Step{{Text: report.Plain(
			"If nobody meant to test falcosidekick, find who called its /test endpoint: anyone who can reach falcosidekick's port can send this alert.")}},
	}
}
