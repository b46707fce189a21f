// Package rules turns an alert into a report. Its Table maps (source, rule
// name) to a Handler; Default, below, is the whole built-in table.
//
// Handlers are pure: an alert in, a report out, no I/O.
package rules

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"sync"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/report"
)

//go:embed playbooks/*.yaml
var builtin embed.FS

// Default returns the built-in handler table, a copy the caller may change.
// The built-in playbooks are parsed and checked once per process (that
// takes a noticeable fraction of a second: a reload must not pay it again).
func Default() *Table { return builtinTable().Clone() }

var builtinTable = sync.OnceValue(func() *Table {
	t := NewTable(Generic)

	// Falco's alerts about itself are operational reports on Falco's
	// health, not security incidents.
	t.Add(event.SourceInternal, "Falco internal: syscall event drop", SyscallEventDrop)
	t.Add(event.SourceInternal, "Falco internal: metrics snapshot", MetricsSnapshot)

	// Dedicated playbooks for every rule of Falco's stable, incubating and
	// sandbox rule sets: playbooks/<rules file>.yaml.
	names, _ := builtinFiles()
	for _, name := range names {
		data, err := builtin.ReadFile(name)
		if err != nil {
			panic(fmt.Sprintf("rules: embedded %s: %v", name, err))
		}
		pbs, err := LoadPlaybooks(name, data)
		if err != nil {
			panic(fmt.Sprintf("rules: embedded playbooks: %v", err))
		}
		for _, pb := range pbs {
			t.AddPlaybook(pb, "built-in")
		}
	}
	return t
})

// Handler builds the rule-specific part of a report from an alert. The
// table fills the parts every report shares (id aside).
type Handler func(a *event.Alert) report.Report

// Key identifies a rule: the same name can exist under several sources.
type Key struct{ Source, Rule string }

// Entry is one row of the table.
type Entry struct {
	Key
	Handler   Handler
	KeyFields []string // the rule's own incident key fields
	Fields    []string // a playbook's output fields (the rule's); nil for other handlers
	Origin    string   // "built-in" or the playbook file that defined it
}

// Table maps (source, rule) to handlers. Build it once, then only read it;
// a reload builds a new Table.
type Table struct {
	entries map[Key]Entry
	generic Handler
}

// NewTable returns an empty table that falls back to generic.
func NewTable(generic Handler) *Table {
	return &Table{entries: map[Key]Entry{}, generic: generic}
}

// Add registers a handler for one rule, replacing any earlier one.
func (t *Table) Add(source, rule string, h Handler, keyFields ...string) {
	k := Key{source, rule}
	t.entries[k] = Entry{Key: k, Handler: h, KeyFields: keyFields, Origin: "built-in"}
}

// AddPlaybook registers a playbook, replacing any earlier handler for its
// rule: this is how users override built-in playbooks.
func (t *Table) AddPlaybook(pb *Playbook, origin string) {
	k := Key{pb.Spec.Source, pb.Spec.Rule}
	t.entries[k] = Entry{Key: k, Handler: pb.Handle, KeyFields: pb.Key(), Fields: pb.Spec.Fields, Origin: origin}
}

// Lookup returns the entry for an alert's source and rule, and false when
// the generic handler applies.
func (t *Table) Lookup(source, rule string) (Entry, bool) {
	e, ok := t.entries[Key{source, rule}]
	return e, ok
}

// Entries returns every row, sorted by source then rule.
func (t *Table) Entries() []Entry {
	out := make([]Entry, 0, len(t.entries))
	for _, e := range t.entries {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Source != out[j].Source {
			return out[i].Source < out[j].Source
		}
		return out[i].Rule < out[j].Rule
	})
	return out
}

// Clone returns a copy of t that can be changed without touching t.
func (t *Table) Clone() *Table {
	c := NewTable(t.generic)
	for k, e := range t.entries {
		c.entries[k] = e
	}
	return c
}

// Build turns an alert into a report. A handler that panics (a bug, or a
// value no one foresaw) is recovered: the report is built by the generic
// handler instead, and the panic is returned as an error to be logged.
func (t *Table) Build(a *event.Alert) (r report.Report, err error) {
	e, ok := t.Lookup(a.Source, a.Rule)
	h := t.generic
	if ok {
		h = e.Handler
	}
	r, err = safeCall(h, a)
	if err != nil {
		r, _ = safeCall(t.generic, a)
	}
	fillHeader(&r, a)
	return r, err
}

func safeCall(h Handler, a *event.Alert) (r report.Report, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler for rule %q panicked: %v", a.Rule, p)
		}
	}()
	return h(a), nil
}

// fillHeader sets what every report carries whatever its handler.
func fillHeader(r *report.Report, a *event.Alert) {
	r.Rule, r.Source, r.Hostname, r.Output = a.Rule, a.Source, a.Hostname, a.Output
	r.Priority = a.Priority.String()
	r.Tags = a.Tags
	if r.Tags == nil {
		r.Tags = []string{}
	}
	r.FirstSeen, r.LastSeen, r.Occurrences = report.Time{Time: a.Time}, report.Time{Time: a.Time}, 1
	if r.Handler == "" {
		r.Handler = report.HandlerGeneric
	}
	if r.MITRE == nil {
		r.MITRE = []report.Technique{}
	}
	r.Fields = make(map[string]*string, len(a.Fields))
	for k, v := range a.Fields {
		if v.Kind == event.Null {
			r.Fields[k] = nil
			continue
		}
		s := v.Text
		r.Fields[k] = &s
	}
}

// IncidentKey returns the key under which repeated alerts fold into one
// incident: rule, source, host, container, executable, and the rule's own
// key fields.
func (t *Table) IncidentKey(a *event.Alert) string {
	e, _ := t.Lookup(a.Source, a.Rule)
	parts := []string{a.Source, a.Rule, a.Hostname, a.ContainerID(), a.Fields.Or("proc.exepath", "proc.name")}
	for _, f := range e.KeyFields {
		v, _ := a.Fields.Get(f)
		parts = append(parts, f+"="+v)
	}
	return strings.Join(parts, "\x00")
}

// builtinFiles lists the embedded playbook files.
func builtinFiles() ([]string, error) { return fs.Glob(builtin, "playbooks/*.yaml") }
