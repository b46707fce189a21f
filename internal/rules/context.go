package rules

import (
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/safe"
)

// Markers around a value inside executed template text. Values are passed
// through safe.Display first, which escapes every control character, so a
// value can never contain a marker.
const (
	valueStart = "\x00"
	valueEnd   = "\x01"
)

// maxShellValue caps a value placed in a command. A longer value is cut,
// and the step says so.
const maxShellValue = 4096

// pidVar is what ContainerPID puts in a command: the variable the step's
// prologue sets to a process inside the container.
const pidVar = `"$pid"`

// Ctx is what a playbook template sees as ".": the alert, with methods that
// show values safely. Methods never fail.
//
// In prose, a missing value shows as "(unknown)"; playbooks avoid that with
// {{if .Has "field"}}. In a command, values are placed only by the Q family,
// which quotes them as one shell word after checking them against what the
// field can legally hold (a container id is hex, a pod name is a DNS name,
// a PID is a number). A command that refers to a missing value is left out;
// one whose value fails its check, or cannot be written as a shell word,
// keeps its text and says why its command is not shown.
type Ctx struct {
	a         *event.Alert
	missing   bool     // a command referred to a field without a value
	truncated bool     // a command holds a value that had to be cut
	bad       string   // why a value in the command cannot be used; "" if none
	needPID   bool     // the command uses ContainerPID
	paths     []string // container paths the command reads, as shell words, to check for links first
}

// reset clears what one command evaluation recorded.
func (c *Ctx) reset() {
	c.missing, c.truncated, c.bad, c.needPID, c.paths = false, false, "", false, nil
}

// V returns the value of field for prose, shown as a value span.
func (c *Ctx) V(field string) string {
	s, ok := c.a.Fields.Get(field)
	if !ok {
		return "(unknown)"
	}
	return valueStart + safe.Line(s) + valueEnd
}

// First returns the first of fields that has a value, as V does.
func (c *Ctx) First(fields ...string) string {
	for _, f := range fields {
		if _, ok := c.a.Fields.Get(f); ok {
			return c.V(f)
		}
	}
	return "(unknown)"
}

// VOr returns the value of field for prose, as V does, or fallback when
// the alert has none: {{.VOr "proc.pname" "an unrecorded parent"}}.
func (c *Ctx) VOr(field, fallback string) string {
	if _, ok := c.a.Fields.Get(field); !ok {
		return fallback
	}
	return c.V(field)
}

// Opt returns format with each %s replaced by the value of the next field,
// shown as V does, when every one of fields has a value, and "" otherwise:
// {{.Opt ", started by %s" "proc.pname"}} leaves the clause out when the
// parent is unknown.
func (c *Ctx) Opt(format string, fields ...string) string {
	out := format
	for _, f := range fields {
		if _, ok := c.a.Fields.Get(f); !ok {
			return ""
		}
		out = strings.Replace(out, "%s", c.V(f), 1)
	}
	return out
}

// Has reports whether field has a value.
func (c *Ctx) Has(field string) bool {
	_, ok := c.a.Fields.Get(field)
	return ok
}

// Is reports whether field has exactly the value want.
func (c *Ctx) Is(field, want string) bool {
	s, ok := c.a.Fields.Get(field)
	return ok && s == want
}

// HasPrefix reports whether field has a value that starts with prefix.
func (c *Ctx) HasPrefix(field, prefix string) bool {
	s, ok := c.a.Fields.Get(field)
	return ok && strings.HasPrefix(s, prefix)
}

// Contains reports whether field has a value that contains sub.
func (c *Ctx) Contains(field, sub string) bool {
	s, ok := c.a.Fields.Get(field)
	return ok && strings.Contains(s, sub)
}

// Q returns the value of field as one shell word, for commands.
func (c *Ctx) Q(field string) string { return c.quoteField(field, func(s string) string { return s }) }

// QDir returns the directory part of the path in field as a shell word.
func (c *Ctx) QDir(field string) string { return c.quoteField(field, path.Dir) }

// QBase returns the last element of the path in field as a shell word.
func (c *Ctx) QBase(field string) string { return c.quoteField(field, path.Base) }

// QTwin returns the path in field and, on a merged-/usr system, its twin
// (/usr/bin/x and /bin/x), as shell words: Debian 12 and Ubuntu 22.04 and
// later record /bin/bash as the package's file, so dpkg -S /usr/bin/bash
// finds nothing. A path outside the merged directories is returned alone.
func (c *Ctx) QTwin(field string) string {
	w := c.Q(field)
	if s, ok := c.a.Fields.Get(field); ok {
		if t := usrTwin(s); t != "" {
			w += " " + c.quote(field, t)
		}
	}
	return w
}

// usrTwin returns the other name of p on a merged-/usr system, or "".
func usrTwin(p string) string {
	for _, d := range []string{"/bin/", "/sbin/", "/lib/", "/lib32/", "/lib64/", "/libx32/"} {
		switch {
		case strings.HasPrefix(p, "/usr"+d):
			return strings.TrimPrefix(p, "/usr")
		case strings.HasPrefix(p, d):
			return "/usr" + p
		}
	}
	return ""
}

// PkgOwner returns a command that names the package owning the path in
// field (and its merged-/usr twin), with dpkg or rpm, whichever the host
// has, and says so when it has neither.
func (c *Ctx) PkgOwner(field string) string {
	paths := c.QTwin(field)
	return "if command -v dpkg >/dev/null 2>&1; then dpkg -S -- " + paths +
		"; elif command -v rpm >/dev/null 2>&1; then rpm -qf -- " + paths +
		"; else echo 'Neither dpkg nor rpm is installed: compare the file with the image or configuration management instead.' >&2; fi"
}

func (c *Ctx) quoteField(field string, part func(string) string) string {
	s, ok := c.a.Fields.Get(field)
	if !ok {
		c.missing = true
		return "''"
	}
	if why := checkValue(field, s); why != "" {
		c.refuse("the alert's " + field + " " + why)
		return "''"
	}
	return c.quote(field, part(s))
}

// refuse records the first reason a command cannot be shown.
func (c *Ctx) refuse(why string) {
	if c.bad == "" {
		c.bad = why
	}
}

func (c *Ctx) quote(what, s string) string {
	if len(s) > maxShellValue {
		c.truncated = true
		s = strings.ToValidUTF8(s[:maxShellValue], "")
	}
	w, ok := safe.ShellWord(s)
	if !ok {
		c.refuse("the alert's " + what + " ends with a line break or holds a NUL byte, which no shell word can carry")
	}
	return w
}

// ContainerPID returns "$pid" for a command that must look at the container
// through one of its processes (/proc/$pid/root, nsenter -t $pid). The step
// is then given a prologue that finds a process inside the container's own
// mount namespace, and a plain message instead of the command when none is
// left.
func (c *Ctx) ContainerPID() string {
	id, ok := c.a.Fields.Get("container.id")
	if !ok || c.a.IsHost() {
		c.missing = true
		return pidVar
	}
	if why := checkValue("container.id", id); why != "" {
		c.refuse("the alert's container.id " + why)
	}
	c.needPID = true
	return pidVar
}

// ContainerFile returns the path in field as seen from the node inside the
// alert's container, for commands that read it: "/proc/$pid/root$cp1".
//
// Reading through /proc/PID/root is not a chroot: an absolute symbolic
// link inside the container, or enough "..", resolves against the node's
// own root, so a link an intruder planted could make the command read the
// node's /etc/shadow. So the step's prologue resolves the path inside the
// container's root first, as openat2's RESOLVE_IN_ROOT does (an absolute
// link target restarts at the container's root, ".." stops at it, at most
// 40 links), and the command reads the resolved path. The path must be
// absolute.
func (c *Ctx) ContainerFile(field string) string {
	return c.containerPath(field, func(s string) string { return s })
}

// ContainerDir is ContainerFile for the directory of the path in field.
func (c *Ctx) ContainerDir(field string) string { return c.containerPath(field, path.Dir) }

// ContainerPath is ContainerFile for a fixed path written in the playbook
// ("/etc/ld.so.preload"), which an intruder can equally replace by a link.
func (c *Ctx) ContainerPath(p string) string {
	c.ContainerPID()
	if why := containerPathProblem(p); why != "" {
		c.refuse("the path " + p + " " + why)
		return "''"
	}
	return c.addPath(c.quote("path", p))
}

func (c *Ctx) containerPath(field string, part func(string) string) string {
	c.ContainerPID()
	s, ok := c.a.Fields.Get(field)
	if !ok {
		c.missing = true
		return "''"
	}
	s = part(s)
	if why := containerPathProblem(s); why != "" {
		c.refuse("the alert's " + field + " " + why)
		return "''"
	}
	return c.addPath(c.quote(field, s))
}

// addPath records a container path (a shell word) for the prologue to
// resolve, and returns the word for the resolved path.
func (c *Ctx) addPath(word string) string {
	c.paths = append(c.paths, word)
	return `"/proc/$pid/root$cp` + strconv.Itoa(len(c.paths)) + `"`
}

// containerPathProblem returns why p cannot be read through /proc/PID/root,
// or "".
func containerPathProblem(p string) string {
	if !strings.HasPrefix(p, "/") {
		return "is not an absolute path"
	}
	return ""
}

// TTY returns the terminal of proc.tty as a name ps -t understands
// ("pts/3"), for commands. Falco reports the terminal as the kernel's
// device number (major << 8 | low 8 bits of the minor | high minor bits
// << 12); only pseudo-terminals (major 136, minor = the pts number) are
// named here.
func (c *Ctx) TTY() string {
	s, ok := c.a.Fields.Get("proc.tty")
	n, err := strconv.ParseUint(s, 10, 32)
	if !ok || err != nil || n == 0 {
		c.missing = true
		return "''"
	}
	major, minor := (n>>8)&0xfff, (n&0xff)|((n>>12)&0xfff00)
	if major != 136 {
		c.missing = true
		return "''"
	}
	return "pts/" + strconv.FormatUint(minor, 10)
}

// TimeOf returns, for prose, the time held in a field of nanoseconds since
// the epoch (proc.exe_ino.ctime, container.start_ts), in UTC.
func (c *Ctx) TimeOf(field string) string {
	s, ok := c.a.Fields.Get(field)
	ns, err := strconv.ParseInt(s, 10, 64)
	if !ok || err != nil || ns <= 0 {
		return "(unknown)"
	}
	return valueStart + time.Unix(0, ns).UTC().Format(time.RFC3339) + valueEnd
}

// Container reports whether the alert came from a container.
func (c *Ctx) Container() bool { return !c.a.IsHost() }

// K8s reports whether the alert names a Kubernetes pod.
func (c *Ctx) K8s() bool { return c.Has("k8s.pod.name") && c.Has("k8s.ns.name") }

// Rule returns the rule name for prose.
func (c *Ctx) Rule() string { return valueStart + safe.Line(c.a.Rule) + valueEnd }

// QRule returns the rule name as a shell word.
func (c *Ctx) QRule() string { return c.quote("rule name", c.a.Rule) }

// Since returns, as a shell word for journalctl --since, a time one hour
// before the alert.
func (c *Ctx) Since() string { return c.journalTime(-time.Hour) }

// Until returns, as a shell word for journalctl --until, a time one hour
// after the alert.
func (c *Ctx) Until() string { return c.journalTime(time.Hour) }

func (c *Ctx) journalTime(d time.Duration) string {
	return "'" + c.a.Time.UTC().Add(d).Format("2006-01-02 15:04:05") + " UTC'"
}

// SinceRFC and UntilRFC return an hour before and after the alert, RFC 3339
// in UTC, as one shell word (for kubectl, aws, gcloud, gh and jq filters).
func (c *Ctx) SinceRFC() string { return c.a.Time.UTC().Add(-time.Hour).Format(time.RFC3339) }

// UntilRFC: see SinceRFC.
func (c *Ctx) UntilRFC() string { return c.a.Time.UTC().Add(time.Hour).Format(time.RFC3339) }

// Date returns the day of the alert, YYYY-MM-DD in UTC.
func (c *Ctx) Date() string { return c.a.Time.UTC().Format("2006-01-02") }

// Time returns the alert's time, RFC 3339 in UTC.
func (c *Ctx) Time() string { return c.a.Time.UTC().Format(time.RFC3339Nano) }

// spans splits executed template text into prose and value spans and
// tidies whitespace left by YAML folding.
func spans(s string) report.Text {
	s = strings.TrimSpace(s)
	var out report.Text
	for s != "" {
		i := strings.Index(s, valueStart)
		if i < 0 {
			out = append(out, report.Span{S: s})
			break
		}
		if i > 0 {
			out = append(out, report.Span{S: s[:i]})
		}
		s = s[i+len(valueStart):]
		j := strings.Index(s, valueEnd)
		if j < 0 {
			j = len(s)
		}
		out = append(out, report.Span{S: s[:j], Value: true})
		s = strings.TrimPrefix(s[j:], valueEnd)
	}
	return out
}

// plain removes value markers, for commands.
func plain(s string) string {
	return markers.Replace(strings.TrimSpace(s))
}

var markers = strings.NewReplacer(valueStart, "", valueEnd, "")
