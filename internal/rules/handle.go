package rules

import (
	"fmt"
	"strconv"
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
	mitre               []report.Technique // curated in the playbook; nil: from the rule's tags
	investigation       []step
	falsePositives      []step
	remediation         []step
}

type step struct {
	text, cmd, changes *template.Template
	when               string
}

// Handle builds the rule-specific part of a report.
func (p *Playbook) Handle(a *event.Alert) report.Report {
	c := &Ctx{a: a}
	r := report.Report{
		Handler:     report.HandlerDedicated,
		Title:       spans(exec(p.title, c)),
		Summary:     spans(exec(p.summary, c)),
		Why:         spans(exec(p.why, c)),
		Description: strings.TrimSpace(p.Spec.Desc),
		MITRE:       p.mitre,
	}
	if r.MITRE == nil {
		r.MITRE = MITRE(tagsOr(a.Tags, p.Spec.Tags))
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
	r.Remediation = append(r.Remediation, exceptionSteps(a, p.Spec.Exception)...)
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
// A step whose command holds a value that fails its field's check, or that
// no shell word can carry, keeps its text and says why the command is not
// shown: a wrong command is worse than none.
func runSteps(steps []step, c *Ctx) []report.Step {
	var out []report.Step
	for _, s := range steps {
		if !s.applies(c) {
			continue
		}
		st := report.Step{Text: spans(exec(s.text, c)), Changes: spans(exec(s.changes, c))}
		if s.cmd != nil {
			c.reset()
			cmd := plain(exec(s.cmd, c))
			switch {
			case c.missing:
				continue
			case c.bad != "":
				st.Text = append(st.Text, report.Span{S: " (The command for this step is not shown: " + c.bad + ".)"})
			default:
				if c.needPID {
					cmd = inContainer(c, cmd)
				}
				st.Command = cmd
				if c.truncated {
					st.Text = append(st.Text, report.Span{S: " (A value in this command was too long and has been cut; adjust it by hand.)"})
				}
			}
		}
		out = append(out, st)
	}
	return out
}

// applies reports whether a step's "when" holds for the alert.
func (s step) applies(c *Ctx) bool {
	switch s.when {
	case "container":
		return c.Container()
	case "host":
		return !c.Container()
	case "k8s":
		return c.K8s()
	}
	return true
}

// inContainer wraps a command that uses ContainerPID: it first finds a
// process of the container inside the container's own mount namespace, and
// says so plainly when none is left. The first process whose cgroup names
// the container is not enough: on CRI-O and Podman the container's conmon
// has the id in its cgroup too, lives in the host's mount namespace and
// usually has the lower PID, so /proc/$pid/root would show the host.
//
// Each container path the command reads (ContainerFile, ContainerDir,
// ContainerPath) is then resolved inside the container's root into $cpN:
// through /proc/$pid/root, a symbolic link would otherwise resolve against
// the node's root. The resolution reads each component's link (readlink),
// restarts at the container's root for an absolute target, never goes above
// it for "..", and gives up after 40 links. A link swapped in between the
// resolution and the command is not caught, so the commands only read.
func inContainer(c *Ctx, cmd string) string {
	id, _ := c.a.Fields.Get("container.id") // checked by ContainerPID
	var b strings.Builder
	b.WriteString("pid=$(grep -lF -- " + id + " /proc/[0-9]*/cgroup 2>/dev/null | cut -d/ -f3 | while read -r p; do " +
		`[ "$(readlink "/proc/$p/ns/mnt")" != "$(readlink /proc/1/ns/mnt)" ] && { echo "$p"; break; }; done)` + "\n")
	noPID := "echo 'No process of container " + id + " is running on this host: the container has stopped or runs elsewhere. Look at its image or a snapshot instead.' >&2"
	body := strings.ReplaceAll(cmd, "\n", "\n  ")
	if len(c.paths) == 0 {
		b.WriteString(`if [ -n "$pid" ]; then` + "\n  " + body + "\nelse\n  " + noPID + "\nfi")
		return b.String()
	}
	// inroot prints the path resolved inside the container's root with a
	// "." after it, so that command substitution keeps a trailing newline
	// of the name; it fails after 40 links.
	b.WriteString(`inroot() { r=; rest=$1; n=0` + "\n" +
		`  while [ -n "$rest" ]; do` + "\n" +
		`    e=${rest%%/*}; case "$rest" in */*) rest=${rest#*/} ;; *) rest= ;; esac` + "\n" +
		`    case "$e" in '' | .) continue ;; ..) r=${r%/*}; continue ;; esac` + "\n" +
		`    if [ -L "/proc/$pid/root$r/$e" ]; then` + "\n" +
		`      n=$((n + 1)); [ "$n" -le 40 ] || return 1` + "\n" +
		`      t=$(readlink -- "/proc/$pid/root$r/$e"; echo .); t=${t%?.}` + "\n" +
		`      case "$t" in /*) r= ;; esac` + "\n" +
		`      rest=$t/$rest` + "\n" +
		`    else r=$r/$e; fi` + "\n" +
		`  done` + "\n" +
		`  printf '%s.' "$r"` + "\n" +
		"}\n")
	var resolve, trim []string
	for i, w := range c.paths {
		v := "cp" + strconv.Itoa(i+1)
		resolve = append(resolve, "! "+v+"=$(inroot "+w+")")
		trim = append(trim, v+"=${"+v+"%.}")
	}
	b.WriteString(`if [ -z "$pid" ]; then` + "\n  " + noPID + "\n" +
		"elif " + strings.Join(resolve, " || ") + "; then\n" +
		"  echo 'A path of this step goes through more than 40 symbolic links inside container " + id + "; it was not read.' >&2\n" +
		"else\n  " + strings.Join(trim, "; ") + "\n  " + body + "\nfi")
	return b.String()
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
			all = append(all, s.text, s.cmd, s.changes)
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
