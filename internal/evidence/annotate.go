package evidence

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/safe"
)

// sysctlCommand finds the settings a step's command reads: "sysctl NAME"
// or "sysctl -n NAME ...".
var sysctlCommand = regexp.MustCompile(`\bsysctl(?:\s+-[a-z]+)*((?:\s+[a-z0-9_]+(?:\.[A-Za-z0-9_-]+)+)+)`)

// SysctlsIn returns the sysctl names the commands of r's steps read: the
// settings that matter to the rule, as its playbook names them.
func SysctlsIn(r *report.Report) []string {
	var out []string
	for _, list := range [][]report.Step{r.Investigation, r.Remediation} {
		for _, s := range list {
			for _, m := range sysctlCommand.FindAllStringSubmatch(s.Command, -1) {
				for _, n := range strings.Fields(m[1]) {
					// net.* are per network namespace: the collector's own
					// would be read, not the host's.
					if ValidSysctl(n) && !strings.HasPrefix(n, "net.") && !slices.Contains(out, n) && len(out) < MaxSysctls {
						out = append(out, n)
					}
				}
			}
		}
	}
	return out
}

// Annotate marks each step of r whose command the snapshot already
// answers; the command stays, for a second look.
func Annotate(r *report.Report) {
	ev := r.Evidence
	for _, list := range [][]report.Step{r.Investigation, r.Remediation} {
		for i := range list {
			list[i].Answered = nil
			if ev != nil && list[i].Command != "" {
				list[i].Answered = answer(ev, list[i].Command)
			}
		}
	}
}

func answer(ev *report.Evidence, cmd string) report.Text {
	var t report.Text
	add := func(spans ...report.Span) {
		if len(t) > 0 {
			t = append(t, report.Span{S: " "})
		}
		t = append(t, spans...)
	}
	val := func(s string) report.Span { return report.Span{S: safe.Line(s), Value: true} }
	if p := ev.Process; p != nil && strings.Contains(cmd, "/proc/"+strconv.Itoa(p.PID)+"/") {
		add(report.Span{S: fmt.Sprintf("The snapshot holds process %d as it was at alert time: executable ", p.PID)}, val(p.Exe),
			report.Span{S: fmt.Sprintf(", cwd, %d open file descriptors and %d sockets (Evidence at alert time).", len(p.FDs), len(p.Sockets))})
	}
	for _, f := range ev.Files {
		q := safe.ShellQuote(f.Path)
		if f.Error != "" || !strings.Contains(cmd, q) || !(strings.Contains(cmd, "ls ") || strings.Contains(cmd, "stat ") || strings.Contains(cmd, "-samefile")) {
			continue
		}
		add(val(f.Path), report.Span{S: fmt.Sprintf(" at alert time: %s, inode %d, %d links, mode %s, owner %d:%d.", f.Type, f.Inode, f.Links, f.Mode, f.UID, f.GID)})
		for _, same := range f.SameAs {
			add(report.Span{S: "Same file as "}, val(same), report.Span{S: "."})
		}
	}
	for _, s := range ev.Sysctls {
		if s.Error == "" && sysctlCommand.MatchString(cmd) && slices.Contains(strings.Fields(cmd), s.Name) {
			add(val(s.Name), report.Span{S: " was "}, val(s.Value), report.Span{S: " at alert time."})
		}
	}
	return t
}
