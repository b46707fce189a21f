package rules

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/safe"
)

// The parts every syscall report shares: who ran what, where, how to look
// at the process and its container, and how to tune the rule. Playbooks
// add what is specific to their rule.

// commonFacts returns the process, user and container facts of a.
func commonFacts() []labelled {
	return []labelled{
		{"Process", "proc.name"},
		{"Executable", "proc.exepath"},
		{"Command line", "proc.cmdline"},
		{"Process id", "proc.pid"},
		{"Parent", "proc.pname"},
		{"Parent command line", "proc.pcmdline"},
		{"User", "user.name"},
		{"User id", "user.uid"},
		{"Login user id", "user.loginuid"},
		{"Terminal", "proc.tty"},
		{"Container id", "container.id"},
		{"Container name", "container.name"},
		{"Image", "container.image.repository"},
		{"Image tag", "container.image.tag"},
		{"Kubernetes namespace", "k8s.ns.name"},
		{"Kubernetes pod", "k8s.pod.name"},
	}
}

type labelled struct{ label, field string }

// appendFacts adds the common facts not already shown, in order, for the
// fields a carries.
func appendFacts(facts []report.Fact, a *event.Alert, shown []FactSpec) []report.Fact {
	done := map[string]bool{}
	for _, f := range shown {
		done[f.Field] = true
	}
	for _, l := range commonFacts() {
		if done[l.field] {
			continue
		}
		if v, ok := a.Fields.Get(l.field); ok {
			facts = append(facts, report.Fact{Label: l.label, Value: v})
		}
	}
	if a.IsHost() {
		facts = append(facts, report.Fact{Label: "Where", Value: "the host (not a container)"})
	}
	return facts
}

// lineage returns the process ancestry from the alert: proc.name, then
// proc.pname, then proc.aname[2] and up.
func lineage(a *event.Alert) []string {
	var chain []string
	for _, f := range []string{"proc.name", "proc.pname", "proc.aname[2]", "proc.aname[3]", "proc.aname[4]", "proc.aname[5]", "proc.aname[6]", "proc.aname[7]"} {
		v, ok := a.Fields.Get(f)
		if !ok {
			if f == "proc.name" {
				continue
			}
			break
		}
		chain = append(chain, v)
	}
	return chain
}

// commonInvestigation returns the steps that apply to any syscall alert,
// given what the alert carries.
func commonInvestigation(a *event.Alert) []report.Step {
	c := &Ctx{a: a}
	var out []report.Step
	if chain := lineage(a); len(chain) > 1 {
		t := report.Text{{S: "Walk the process lineage Falco recorded, child first: "}}
		for i, p := range chain {
			if i > 0 {
				t = append(t, report.Span{S: " ← "})
			}
			t = append(t, report.Span{S: safe.Line(p), Value: true})
		}
		t = append(t, report.Span{S: ". Ask which ancestor is expected to start this; a web server, database or CI agent in the chain points at the service that was abused."})
		out = append(out, report.Step{Text: t})
	}
	if c.Has("proc.pid") {
		out = append(out, report.Step{
			Text:    spans("Check whether process " + c.V("proc.pid") + " is still running, and that it is the same program (PIDs are reused):"),
			Command: "ps -o pid,ppid,user,lstart,args -p " + c.Q("proc.pid") + "; ls -l /proc/" + c.Q("proc.pid") + "/exe /proc/" + c.Q("proc.pid") + "/cwd",
		})
	}
	if c.Container() {
		id := c.Q("container.id")
		out = append(out, report.Step{
			Text:    spans("Inspect container " + c.V("container.id") + c.nameSuffix() + ": its image, mounts, privileges and start time (on Docker hosts, docker inspect shows the same):"),
			Command: "crictl inspect " + id,
		})
	}
	if c.K8s() {
		ns, pod := c.Q("k8s.ns.name"), c.Q("k8s.pod.name")
		out = append(out, report.Step{
			Text:    spans("Look at pod " + c.V("k8s.pod.name") + " in namespace " + c.V("k8s.ns.name") + ": owner, service account, security context, recent events:"),
			Command: "kubectl -n " + ns + " describe pod " + pod + "; kubectl -n " + ns + " get pod " + pod + " -o yaml",
		})
	}
	out = append(out, otherAlerts(c))
	return out
}

func (c *Ctx) nameSuffix() string {
	if c.Has("container.name") {
		return " (" + c.V("container.name") + ")"
	}
	return ""
}

// otherAlerts is the step that looks for Falco's other alerts about the
// same container or executable, in the hour around this one.
func otherAlerts(c *Ctx) report.Step {
	what, needle := "the same executable", ""
	switch {
	case c.Container():
		what, needle = "the same container", c.Q("container.id")
	case c.Has("proc.exepath"):
		needle = c.Q("proc.exepath")
	case c.Has("proc.name"):
		what, needle = "the same process name", c.Q("proc.name")
	default:
		what, needle = "this rule", c.QRule()
	}
	return report.Step{
		Text:    report.Plain("List Falco's other alerts about " + what + " in the hour around this one; a chain of different rules (a shell, then a sensitive read, then an outbound connection) is the pattern of an intrusion, one isolated alert usually is not. Falco's own log is in the journal when it runs under systemd; falco-reporter's reports carry the same text."),
		Command: "journalctl -u falco --since " + c.Since() + " --until " + c.Until() + " -o cat | grep -F -- " + needle,
	}
}

// commonFalsePositives flags the falcosecurity event-generator, which fires
// most rules on purpose.
func commonFalsePositives(a *event.Alert) []report.Step {
	c := &Ctx{a: a}
	for _, f := range []string{"proc.name", "proc.pname", "proc.cmdline", "proc.exepath", "container.image.repository", "proc.aname[2]"} {
		v, _ := a.Fields.Get(f)
		if strings.Contains(v, "event-generator") || strings.HasPrefix(v, "falco-event-gen") {
			return []report.Step{{Text: spans("This alert looks like a test: " + c.V(f) + " belongs to falcosecurity/event-generator, a tool that triggers Falco rules on purpose. Confirm someone is running it (and that its image came from a trusted registry) before closing the alert.")}}
		}
	}
	return nil
}

// preserveEvidence is the first response step of every report.
func preserveEvidence(a *event.Alert) []report.Step {
	c := &Ctx{a: a}
	steps := []report.Step{{Text: report.Plain("Preserve evidence before changing anything: keep this report and Falco's raw alert (below) with the incident ticket. Stopping a process or deleting a pod destroys its memory, open files and network state.")}}
	if c.Has("proc.pid") {
		steps = append(steps, report.Step{
			Text:    spans("If process " + c.V("proc.pid") + " is still running, record its open files and network connections first (read-only):"),
			Command: "ls -l /proc/" + c.Q("proc.pid") + "/fd; cat /proc/" + c.Q("proc.pid") + "/environ | tr '\\0' '\\n'; ss -tunap | grep -F -- pid=" + c.Q("proc.pid") + ",",
		})
	}
	return steps
}

// exceptionStep proposes a Falco rule exception built from the alert's
// values of fields, for use only once the activity is known to be benign.
func exceptionStep(a *event.Alert, fields []string) (report.Step, bool) {
	type exception struct {
		Name   string     `yaml:"name"`
		Fields []string   `yaml:"fields"`
		Comps  []string   `yaml:"comps"`
		Values [][]string `yaml:"values"`
	}
	type rule struct {
		Rule       string            `yaml:"rule"`
		Exceptions []exception       `yaml:"exceptions"`
		Override   map[string]string `yaml:"override"`
	}
	var ex exception
	ex.Name = "known_benign"
	var values []string
	for _, f := range fields {
		v, ok := a.Fields.Get(f)
		if !ok || strings.IndexFunc(v, safe.NeedsEscape) >= 0 || len(v) > 512 {
			continue
		}
		ex.Fields = append(ex.Fields, f)
		ex.Comps = append(ex.Comps, "=")
		values = append(values, v)
	}
	if len(ex.Fields) == 0 || strings.IndexFunc(a.Rule, safe.NeedsEscape) >= 0 || len(a.Rule) > 512 {
		return report.Step{}, false
	}
	ex.Values = [][]string{values}
	out, err := yaml.Marshal([]rule{{Rule: a.Rule, Exceptions: []exception{ex}, Override: map[string]string{"exceptions": "append"}}})
	if err != nil {
		return report.Step{}, false
	}
	return report.Step{
		Text:    report.Plain(fmt.Sprintf("Only once you have confirmed the activity is legitimate: tune the rule with an exception for exactly these values (%s) in /etc/falco/falco_rules.local.yaml, then restart Falco. Prefer an exception to disabling the rule.", strings.Join(ex.Fields, ", "))),
		Changes: "Falco stops alerting on this rule when all of these fields match these values; every other occurrence still alerts.",
		Config:  string(out),
	}, true
}
