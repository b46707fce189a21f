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
// alert has: its tags, its fields, and the frame of its source.
func Generic(a *event.Alert) report.Report {
	c := &Ctx{a: a}
	r := report.Report{
		Handler: report.HandlerGeneric,
		Title:   report.Text{{S: "Falco rule "}, {S: safe.Line(a.Rule), Value: true}},
		MITRE:   MITRE(a.Tags),
	}
	r.Summary = genericSummary(c)
	r.Why = report.Plain("falco-reporter has no playbook for this rule, so this report is built from the alert's tags and fields alone. " +
		"Read the rule's condition to learn exactly what it matched; the MITRE ATT&CK techniques below, from the rule's tags, say what an attacker would gain.")

	r.Facts = appendFacts(nil, a, nil)
	done := map[string]bool{}
	for _, l := range frameOf(a).facts {
		done[l.field] = true
	}
	names := make([]string, 0, len(a.Fields))
	for k := range a.Fields {
		if !done[k] {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		if len(r.Facts) >= maxGenericFacts {
			break
		}
		if v, ok := a.Fields.Get(k); ok {
			r.Facts = append(r.Facts, report.Fact{Field: k, Value: v})
		}
	}

	r.Investigation = []report.Step{{
		Text:    report.Plain("Read the rule's condition and output in Falco's rules files, to know exactly what matched:"),
		Command: "grep -rn -A 12 -F -- " + c.QRule() + " /etc/falco/",
	}}
	if c.bad != "" {
		r.Investigation[0] = report.Step{Text: report.Plain("Read the rule's condition and output in Falco's rules files (under /etc/falco/) to know exactly what matched; the rule's name cannot be written as a shell word, so search for part of it by hand.")}
	}
	r.Investigation = append(r.Investigation, commonInvestigation(a)...)
	r.FalsePositives = append(commonFalsePositives(a), report.Step{Text: report.Plain(
		"Decide whether the actor and the activity above are expected: compare with the workload's documented behaviour, recent deployments and change tickets, and with earlier alerts of the same rule.")})
	r.Remediation = preserveEvidence(a)
	contain := "If the activity is not explained, contain it (isolate the container or pod, or the host) and escalate to the security team with this report."
	if a.Source != event.SourceSyscall {
		contain = "If the activity is not explained, contain the account that performed it (suspend its sessions and credentials) and escalate to the security team with this report."
	}
	r.Remediation = append(r.Remediation, report.Step{Text: report.Plain(contain)})
	ex := exceptionSteps(a, frameOf(a).exception)
	if len(ex) > 0 {
		ex[0].Text = append(ex[0].Text, report.Span{S: " The rule has no playbook here, so first make sure the grep above found it: an exception for a rule that does not exist stops Falco from loading its rules."})
	}
	r.Remediation = append(r.Remediation, ex...)
	return r
}

// genericSummary says who did what where, from the fields the alert has.
func genericSummary(c *Ctx) report.Text {
	var b strings.Builder
	b.WriteString("Falco rule " + c.Rule() + " fired")
	if c.a.Source != event.SourceSyscall {
		fr := frameOf(c.a)
		if fr.actor != "" && c.Has(fr.actor) {
			b.WriteString(" for " + c.V(fr.actor))
		}
		if fr.action != "" && c.Has(fr.action) {
			b.WriteString(" (" + c.V(fr.action) + ")")
		}
		if fr.object != "" && c.Has(fr.object) {
			b.WriteString(" on " + c.V(fr.object))
		}
		if fr.where != nil {
			b.WriteString(", reported by " + fr.where(c))
		} else {
			b.WriteString(", from the event source " + c.V2(c.a.Source))
		}
		b.WriteString(".")
		return spans(b.String())
	}
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
	default:
		b.WriteString(" on the host")
	}
	if c.Has("fd.name") {
		b.WriteString(", on " + c.V("fd.name"))
	}
	b.WriteString(".")
	return spans(b.String())
}

// V2 shows a string that is not a field (the source name) as a value.
func (c *Ctx) V2(s string) string { return valueStart + safe.Line(s) + valueEnd }
