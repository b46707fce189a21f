package rules

import (
	"path"
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

// Ctx is what a playbook template sees as ".": the alert, with methods that
// show values safely. Methods never fail; a missing value shows as
// "(unknown)" in prose, and makes a command step be left out.
type Ctx struct {
	a         *event.Alert
	missing   bool // a command referred to a field without a value
	truncated bool // a command holds a value that had to be cut
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
func (c *Ctx) Q(field string) string {
	s, ok := c.a.Fields.Get(field)
	if !ok {
		c.missing = true
		return "''"
	}
	return c.quote(s)
}

// QDir returns the directory part of the path in field as a shell word.
func (c *Ctx) QDir(field string) string {
	s, ok := c.a.Fields.Get(field)
	if !ok {
		c.missing = true
		return "''"
	}
	return c.quote(path.Dir(s))
}

// QBase returns the last element of the path in field as a shell word.
func (c *Ctx) QBase(field string) string {
	s, ok := c.a.Fields.Get(field)
	if !ok {
		c.missing = true
		return "''"
	}
	return c.quote(path.Base(s))
}

func (c *Ctx) quote(s string) string {
	if len(s) > maxShellValue {
		c.truncated = true
		s = strings.ToValidUTF8(s[:maxShellValue], "")
	}
	return safe.ShellQuote(s)
}

// Container reports whether the alert came from a container.
func (c *Ctx) Container() bool { return !c.a.IsHost() }

// K8s reports whether the alert names a Kubernetes pod.
func (c *Ctx) K8s() bool { return c.Has("k8s.pod.name") && c.Has("k8s.ns.name") }

// Rule returns the rule name for prose.
func (c *Ctx) Rule() string { return valueStart + safe.Line(c.a.Rule) + valueEnd }

// QRule returns the rule name as a shell word.
func (c *Ctx) QRule() string { return c.quote(c.a.Rule) }

// Since returns, as a shell word for journalctl --since, a time one hour
// before the alert.
func (c *Ctx) Since() string { return c.journalTime(-time.Hour) }

// Until returns, as a shell word for journalctl --until, a time one hour
// after the alert.
func (c *Ctx) Until() string { return c.journalTime(time.Hour) }

func (c *Ctx) journalTime(d time.Duration) string {
	return safe.ShellQuote(c.a.Time.UTC().Add(d).Format("2006-01-02 15:04:05") + " UTC")
}

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

// plain removes value markers, for titles and commands.
func plain(s string) string {
	return markers.Replace(strings.TrimSpace(s))
}

var markers = strings.NewReplacer(valueStart, "", valueEnd, "")
