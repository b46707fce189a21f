package render

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/safe"
)

// evidenceStatus says in words what a snapshot's status means.
var evidenceStatus = map[string]string{
	report.EvidenceTaken:     "taken",
	report.EvidenceExited:    "not taken: the process had exited",
	report.EvidencePIDReused: "not taken: the PID belongs to another process now",
	report.EvidencePending:   "requested; this report is rewritten when it arrives",
	report.EvidenceOff:       "not taken: evidence is off (evidence.enabled)",
	report.EvidenceSkipped:   "not taken",
	report.EvidenceFailed:    "not taken: the collector failed",
}

// evidence renders the "Evidence at alert time" section. Every string in
// a snapshot came from the host and may have been chosen by an intruder:
// each is a code span, escaped and capped.
func evidence(b *strings.Builder, ev *report.Evidence) {
	if ev == nil {
		return
	}
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	status, ok := evidenceStatus[ev.Status]
	switch {
	case !ok:
		status = "status " + code(ev.Status, false)
	case ev.Reason != "":
		short, _, _ := strings.Cut(status, ":")
		status = prose(short) + ": " + hostText(strings.TrimSuffix(ev.Reason, "."))
	default:
		status = prose(status)
	}
	w("## Evidence at alert time\n\nSnapshot %s.", status)
	if ev.TakenAt != nil {
		w(" Looked at %s, %s ms after the alert, for %s ms.", code(ev.TakenAt.String(), false),
			strconv.FormatFloat(ev.DelayMS, 'f', 1, 64), strconv.FormatFloat(ev.TookMS, 'f', 1, 64))
	}
	b.WriteString(" Never read: the environment, memory and file contents.\n\n")

	if p := ev.Process; p != nil {
		exe := code(p.Exe, true)
		if p.ExeDeleted {
			exe += " (deleted since it started)"
		}
		hash := "not taken"
		if p.SHA256 != "" {
			hash = code(p.SHA256, true) + fmt.Sprintf(" (%d bytes)", p.ExeSize)
		}
		ns := make([]string, 0, len(p.Namespaces))
		for _, n := range p.Namespaces {
			s := fmt.Sprintf("%s:[%d]", n.Type, n.Inode)
			if n.Host != nil && !*n.Host {
				s += " (not the host's)"
			}
			ns = append(ns, s)
		}
		caps := strings.Join(p.Capabilities.Names, " ")
		if caps == "" {
			caps = "none"
		}
		w("### Process\n\n| | |\n|---|---|\n")
		row := func(label, value string) { w("| %s | %s |\n", label, value) }
		row("PID, parent", fmt.Sprintf("%d, %d", p.PID, p.PPID))
		row("Started", code(p.Start.String(), true))
		row("Executable", exe)
		row("SHA-256 of the running executable", hash)
		row("Command line", code(argv(p.Cmdline), true))
		row("Working directory", code(p.Cwd, true))
		row("UIDs (real, effective, saved, fs)", code(ints(p.UIDs), true))
		row("GIDs (real, effective, saved, fs)", code(ints(p.GIDs), true))
		if len(p.Groups) > 0 {
			row("Groups", code(ints(p.Groups), true))
		}
		row("Effective capabilities", code(caps, true)+" ("+code(p.Capabilities.Effective, true)+")")
		row("Permitted, bounding, ambient", code(p.Capabilities.Permitted+" "+p.Capabilities.Bounding+" "+p.Capabilities.Ambient, true))
		row("No new privileges, seccomp, tracer", fmt.Sprintf("%t, %d, %d", p.NoNewPrivs, p.Seccomp, p.TracerPID))
		if len(p.Cgroup) > 0 {
			row("Cgroup", code(strings.Join(p.Cgroup, "; "), true))
		}
		row("Namespaces", code(strings.Join(ns, " "), true))
		b.WriteString("\n")
		if len(p.FDs) > 0 {
			w("Open file descriptors (%d):\n\n", len(p.FDs))
			for _, f := range p.FDs {
				w("- %d: %s\n", f.Num, code(f.Target, false))
			}
			b.WriteString("\n")
		}
		if len(p.Sockets) > 0 {
			w("| Socket fd | Protocol | Local | Remote | State |\n|---|---|---|---|---|\n")
			for _, s := range p.Sockets {
				w("| %d | %s | %s | %s | %s |\n", s.FD, hostText(s.Proto), code(s.Local, true), code(s.Remote, true), hostText(s.State))
			}
			b.WriteString("\n")
		}
	}
	if len(ev.Ancestry) > 0 {
		w("### Ancestry, up to PID 1\n\n")
		for _, a := range ev.Ancestry {
			w("- %d", a.PID)
			if a.Exe != "" {
				w(" %s", code(a.Exe, false))
			}
			if len(a.Cmdline) > 0 {
				w(": %s", code(argv(a.Cmdline), false))
			}
			if a.Note != "" {
				w(" (%s)", hostText(a.Note))
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	if len(ev.Files) > 0 {
		w("### The alert's paths (lstat, no link followed)\n\n| Path | Type | Mode | Inode | Links | Owner | Size | Modified | |\n|---|---|---|---|---|---|---|---|---|\n")
		for _, f := range ev.Files {
			if f.Error != "" {
				w("| %s | | | | | | | | %s |\n", code(f.Path, true), hostText(f.Error))
				continue
			}
			var more []string
			if f.Target != "" {
				more = append(more, "link to "+code(f.Target, true)+" (not followed)")
			}
			for _, s := range f.SameAs {
				more = append(more, "same file as "+code(s, true))
			}
			mtime := ""
			if f.MTime != nil {
				mtime = code(f.MTime.String(), true)
			}
			w("| %s | %s | %s | %d on %s | %d | %d:%d | %d | %s | %s |\n", code(f.Path, true), hostText(f.Type), code(f.Mode, true),
				f.Inode, hostText(f.Device), f.Links, f.UID, f.GID, f.Size, mtime, strings.Join(more, "; "))
		}
		b.WriteString("\n")
	}
	if len(ev.Sysctls) > 0 {
		w("### Kernel settings\n\n| sysctl | Value |\n|---|---|\n")
		for _, s := range ev.Sysctls {
			v := code(s.Value, true)
			if s.Error != "" {
				v = hostText(s.Error)
			}
			w("| %s | %s |\n", code(s.Name, true), v)
		}
		b.WriteString("\n")
	}
	if len(ev.Notes) > 0 {
		w("Not complete:\n\n")
		for _, n := range ev.Notes {
			w("- %s\n", hostText(n))
		}
		b.WriteString("\n")
	}
}

// hostText is prose from the collector that may quote the host: escaped
// and capped, and with "@" escaped too, so that no e-mail address in it
// becomes a GFM autolink (text escapes ":", "." and "~" already).
func hostText(s string) string {
	return strings.ReplaceAll(text(safe.Display(s, safe.MaxValue)), "@", `\@`)
}

// argv writes a command line as the shell words that would give it, so
// that argument boundaries show.
func argv(args []string) string {
	words := make([]string, len(args))
	for i, a := range args {
		a = safe.Cap(a, safe.MaxValue)
		w, ok := safe.ShellWord(a)
		if !ok {
			w = safe.Line(a)
		}
		words[i] = w
	}
	return strings.Join(words, " ")
}

func ints(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, " ")
}
