package rules

import (
	"fmt"
	"strings"
	"text/template"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/safe"
)

// Playbook is a compiled PlaybookSpec: a dedicated handler for one rule.
type Playbook struct {
	Spec *PlaybookSpec

	title, summary, why *template.Template
	investigation       []step
	falsePositives      []step
	remediation         []step
}

type step struct {
	text, cmd *template.Template
	when      string
	changes   string
}

// Handle builds the rule-specific part of a report.
func (p *Playbook) Handle(a *event.Alert) report.Report {
	c := &Ctx{a: a}
	r := report.Report{
		Handler:     report.HandlerDedicated,
		Title:       plain(exec(p.title, c)),
		Summary:     spans(exec(p.summary, c)),
		Why:         spans(exec(p.why, c)),
		Description: strings.TrimSpace(p.Spec.Desc),
		MITRE:       MITRE(tagsOr(a.Tags, p.Spec.Tags)),
	}
	for _, f := range p.Spec.Facts {
		if v, ok := a.Fields.Get(f.Field); ok {
			r.Facts = append(r.Facts, report.Fact{Label: f.Label, Value: v})
		}
	}
	r.Facts = appendFacts(r.Facts, a, p.Spec.Facts)
	r.Investigation = append(runSteps(p.investigation, c), commonInvestigation(a)...)
	r.FalsePositives = append(commonFalsePositives(a), runSteps(p.falsePositives, c)...)
	r.Remediation = append(preserveEvidence(a), runSteps(p.remediation, c)...)
	if s, ok := exceptionStep(a, p.Spec.Exception); ok {
		r.Remediation = append(r.Remediation, s)
	}
	return r
}

// Key returns the fields that, with the rule, host, container and
// executable, tell one incident of this rule from another.
func (p *Playbook) Key() []string { return p.Spec.Key }

func tagsOr(tags, fallback []string) []string {
	if len(tags) > 0 {
		return tags
	}
	return fallback
}

// exec runs t against c. A playbook template that fails at run time (it
// passed a dry run at load) yields a visible placeholder, never a panic.
func exec(t *template.Template, c *Ctx) string {
	if t == nil {
		return ""
	}
	var b strings.Builder
	if err := t.Execute(&b, c); err != nil {
		return "(playbook error: " + safe.Line(err.Error()) + ")"
	}
	return b.String()
}

// runSteps evaluates steps for one alert. A step is left out when its
// "when" does not hold, or when its command needs a value the alert lacks.
func runSteps(steps []step, c *Ctx) []report.Step {
	var out []report.Step
	for _, s := range steps {
		switch s.when {
		case "container":
			if !c.Container() {
				continue
			}
		case "host":
			if c.Container() {
				continue
			}
		case "k8s":
			if !c.K8s() {
				continue
			}
		}
		c.missing, c.truncated = false, false
		st := report.Step{Text: spans(exec(s.text, c)), Changes: s.changes}
		if s.cmd != nil {
			st.Command = plain(exec(s.cmd, c))
			if c.missing {
				continue
			}
			if c.truncated {
				st.Text = append(st.Text, report.Span{S: " (a value in this command was too long and has been cut; adjust it by hand)"})
			}
		}
		out = append(out, st)
	}
	return out
}

// dryRun executes every template of p against a synthetic alert that has a
// value for every field, so that a template that would fail at run time
// fails at load instead.
func dryRun(p *Playbook) error {
	a := &event.Alert{Time: time.Unix(0, 0), Rule: p.Spec.Rule, Fields: event.Fields{}}
	for _, f := range append(append([]string{}, p.Spec.Fields...), ContainerFields...) {
		a.Fields[f] = event.Str("x")
	}
	c := &Ctx{a: a}
	all := []*template.Template{p.title, p.summary, p.why}
	for _, list := range [][]step{p.investigation, p.falsePositives, p.remediation} {
		for _, s := range list {
			all = append(all, s.text, s.cmd)
		}
	}
	for _, t := range all {
		if t == nil {
			continue
		}
		if err := t.Execute(&strings.Builder{}, c); err != nil {
			return fmt.Errorf("template %s: %v", t.Name(), err)
		}
	}
	return nil
}
