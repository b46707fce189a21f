package rules

import (
	"sort"
	"strings"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/safe"
)

// maxGenericFacts caps the facts table of the generic handler.
const maxGenericFacts = 40

// Generic builds a report for a rule that has no playbook, from what every
// alert has: its tags, its fields, and the process and container they name.
func Generic(a *event.Alert) report.Report {
	c := &Ctx{a: a}
	r := report.Report{
		Handler: report.HandlerGeneric,
		Title:   safe.Line(a.Rule),
		MITRE:   MITRE(a.Tags),
	}
	r.Summary = genericSummary(c)
	r.Why = report.Plain("falco-reporter has no playbook for this rule, so this report is built from the alert's tags and fields alone. " +
		"Read the rule's condition to learn exactly what it matched; the MITRE ATT&CK mapping below, from the rule's tags, says what an attacker would gain.")

	var shown []FactSpec
	for _, l := range commonFacts() {
		shown = append(shown, FactSpec{Label: l.label, Field: l.field})
	}
	r.Facts = appendFacts(nil, a, nil)
	names := make([]string, 0, len(a.Fields))
	for k := range a.Fields {
		names = append(names, k)
	}
	sort.Strings(names)
	done := map[string]bool{}
	for _, f := range shown {
		done[f.Field] = true
	}
	for _, k := range names {
		if done[k] || len(r.Facts) >= maxGenericFacts {
			continue
		}
		if v, ok := a.Fields.Get(k); ok {
			r.Facts = append(r.Facts, report.Fact{Label: k, Value: v})
		}
	}

	r.Investigation = []report.Step{{
		Text:    report.Plain("Read the rule's condition and output in Falco's rules files, to know exactly what matched:"),
		Command: "grep -rn -A 12 -F -- " + c.quote("rule: "+a.Rule) + " /etc/falco/",
	}}
	if a.Source == event.SourceSyscall {
		r.Investigation = append(r.Investigation, commonInvestigation(a)...)
	}
	r.FalsePositives = append(commonFalsePositives(a), report.Step{Text: report.Plain(
		"Decide whether the process, user and container above are expected to do this: compare with the workload's documented behaviour, recent deployments and change tickets, and with earlier alerts of the same rule on this host.")})
	r.Remediation = preserveEvidence(a)
	r.Remediation = append(r.Remediation, report.Step{Text: report.Plain(
		"If the activity is not explained, contain the workload (isolate the container or pod, or the host) and escalate to the security team with this report.")})
	var exFields []string
	for _, f := range []string{"proc.exepath", "container.image.repository"} {
		if c.Has(f) {
			exFields = append(exFields, f)
		}
	}
	if s, ok := exceptionStep(a, exFields); ok {
		r.Remediation = append(r.Remediation, s)
	}
	return r
}

// genericSummary says who did what where, from the fields the alert has.
func genericSummary(c *Ctx) report.Text {
	var b strings.Builder
	b.WriteString("Falco rule " + c.Rule() + " fired")
	if c.Has("proc.name") {
		b.WriteString(" for process " + c.V("proc.name"))
		if c.Has("proc.cmdline") {
			b.WriteString(" (command line " + c.V("proc.cmdline") + ")")
		}
		if c.Has("user.name") {
			b.WriteString(" run by user " + c.V("user.name"))
		}
	}
	switch {
	case c.K8s():
		b.WriteString(" in pod " + c.V("k8s.pod.name") + " of namespace " + c.V("k8s.ns.name"))
	case c.Container():
		b.WriteString(" in container " + c.V("container.id") + c.nameSuffix())
	case c.a.Source == event.SourceSyscall:
		b.WriteString(" on the host")
	}
	if c.Has("fd.name") {
		b.WriteString(", on " + c.V("fd.name"))
	}
	b.WriteString(".")
	return spans(b.String())
}
