package rules

import (
	"strings"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/safe"
)

// The steps every report of a source shares: for syscall alerts, who ran
// what, where, and how to look at the process and its container; for every
// source, where to find related alerts. Playbooks add what is specific to
// their rule.

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

// commonInvestigation returns the steps that apply to any alert of a's
// source, given what the alert carries.
func commonInvestigation(a *event.Alert) []report.Step {
	c := &Ctx{a: a}
	if a.Source != event.SourceSyscall {
		return []report.Step{relatedAlerts(c)}
	}
	var out []report.Step
	if chain := lineage(a); len(chain) > 1 {
		t := report.Text{{S: "Walk the process lineage Falco recorded, child first: "}}
		for i, p := range chain {
			if i > 0 {
				t = append(t, report.Span{S: " ← "})
			}
			t = append(t, report.Span{S: safe.Line(p), Value: true})
		}
		t = append(t, report.Span{S: ". Ask which ancestor is expected to start this; a web server, database or CI agent in the chain points at the service that was abused. The names are process names, which any program can choose: confirm them from the executables while the processes run."})
		out = append(out, report.Step{Text: t})
	}
	if pid, ok := a.Fields.Get("proc.pid"); ok && checkValue("proc.pid", pid) == "" {
		out = append(out, report.Step{
			Text:    spans("Check whether process " + c.V("proc.pid") + " is still running, and that it is the same program (PIDs are reused: compare the start time and executable with the alert):"),
			Command: "ps -o pid,ppid,user,lstart,args -p " + pid + " && ls -l /proc/" + pid + "/exe /proc/" + pid + "/cwd",
		})
	}
	if id, ok := a.Fields.Get("container.id"); ok && !a.IsHost() && checkValue("container.id", id) == "" {
		out = append(out, report.Step{
			Text:    spans("Inspect container " + c.V("container.id") + c.nameSuffix() + ": its image, mounts, privileges and start time (on Docker hosts, docker inspect shows the same):"),
			Command: "crictl inspect " + id,
		})
	}
	if ns, pod, ok := k8sPod(a); ok {
		out = append(out, report.Step{
			Text:    spans("Look at pod " + c.V("k8s.pod.name") + " in namespace " + c.V("k8s.ns.name") + ": owner, service account, security context, recent events:"),
			Command: "kubectl describe pod --namespace=" + ns + " " + pod + "\nkubectl get pod --namespace=" + ns + " -o yaml " + pod,
		})
	}
	return append(out, relatedAlerts(c))
}

// k8sPod returns the alert's namespace and pod when both are legal
// Kubernetes names.
func k8sPod(a *event.Alert) (ns, pod string, ok bool) {
	ns, ok1 := a.Fields.Get("k8s.ns.name")
	pod, ok2 := a.Fields.Get("k8s.pod.name")
	ok = ok1 && ok2 && checkValue("k8s.ns.name", ns) == "" && checkValue("k8s.pod.name", pod) == ""
	return ns, pod, ok
}

func (c *Ctx) nameSuffix() string {
	if c.Has("container.name") {
		return " (" + c.V("container.name") + ")"
	}
	return ""
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
	if a.Source != event.SourceSyscall {
		return []report.Step{{Text: report.Plain("Preserve evidence before changing anything: keep this report and Falco's raw alert (below) with the incident ticket, and export the audit log entries of the hour around it; the service's own retention deletes them.")}}
	}
	steps := []report.Step{{Text: report.Plain("Preserve evidence before changing anything: keep this report and Falco's raw alert (below) with the incident ticket. Stopping a process or deleting a pod destroys its memory, open files and network state.")}}
	if pid, ok := a.Fields.Get("proc.pid"); ok && checkValue("proc.pid", pid) == "" {
		steps = append(steps, report.Step{
			Text:    spans("If process " + c.V("proc.pid") + " is still running, record its open files and its network connections, seen from its own network namespace (read-only). Its environment may hold secrets: do not print it into a terminal or a ticket."),
			Command: "ls -l /proc/" + pid + "/fd\nnsenter -t " + pid + " -n ss -tunap | grep -F -- 'pid=" + pid + ",'",
		})
	}
	return steps
}
