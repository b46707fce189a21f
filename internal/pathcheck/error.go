package pathcheck

import (
	"fmt"
	"strings"
)

// maxListed is how many unusable paths an Error names before it counts.
const maxListed = 3

// Error lists the paths the daemon cannot use and how to repair them.
type Error struct {
	Failed []Result
}

// Usable returns nil when every result is OK, or an *Error.
func Usable(results []Result) error {
	var failed []Result
	for _, r := range results {
		if !r.OK() {
			failed = append(failed, r)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return &Error{Failed: failed}
}

// Error is one line (it becomes the journal's MESSAGE): the first
// unusable paths, each with why, then the commands that repair them all.
func (e *Error) Error() string {
	var b strings.Builder
	for i, r := range e.Failed {
		if i == maxListed {
			fmt.Fprintf(&b, "; and %d more", len(e.Failed)-maxListed)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(r.Line())
	}
	if fixes := e.Fixes(); len(fixes) > 0 {
		b.WriteString("; repair: ")
		b.WriteString(strings.Join(fixes, " ; "))
	}
	return b.String()
}

// Fixes returns the distinct repair commands, in the order of the paths.
func (e *Error) Fixes() []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range e.Failed {
		if r.Fix != "" && !seen[r.Fix] {
			seen[r.Fix] = true
			out = append(out, r.Fix)
		}
	}
	return out
}

// ServiceStateDir is the unit's StateDirectory=, the only place the
// service may write under ProtectSystem=strict.
const ServiceStateDir = "/var/lib/falco-reporter"

// SandboxNote says what the shipped unit's sandbox does to a path that a
// check outside it cannot see, or "". A drop-in may change these.
func SandboxNote(it Item) string {
	p := it.Path
	writes := it.Access == Write || it.Access == WriteDir
	switch {
	case within(p, "/home") || within(p, "/root") || within(p, "/run/user"):
		return "hidden from the service by ProtectHome=yes; move it, or add ProtectHome=read-only in a drop-in"
	case within(p, "/tmp") || within(p, "/var/tmp"):
		return "the service has its own empty /tmp and /var/tmp (PrivateTmp=yes): it will not see this path"
	case writes && !within(p, ServiceStateDir):
		return "read-only for the service (ProtectSystem=strict): add ReadWritePaths=" + it.treeRoot() + " with sudo systemctl edit falco-reporter"
	}
	return ""
}

func (it Item) treeRoot() string {
	if it.Root != "" {
		return it.Root
	}
	return it.Path
}
