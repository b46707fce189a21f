// Package render turns a report into bytes: Markdown for people, JSON for
// machines. Every string that came from an alert is escaped or fenced so
// that it cannot add structure, HTML or terminal escapes to the output.
package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/safe"
)

// MaxRawValue caps each string in the raw alert at the end of the Markdown
// report.
const MaxRawValue = 8 << 10

// Markdown renders r for an on-call engineer.
func Markdown(r *report.Report) []byte {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	w("# %s: %s%s\n\n", text(r.Priority), code(r.Rule, false), where(r))
	w("**%s**\n\n", spans(r.Title))
	seen := r.FirstSeen.String()
	if r.Occurrences > 1 {
		seen = fmt.Sprintf("%d times, first %s, last %s", r.Occurrences, seen, r.LastSeen.String())
	}
	w("Seen: %s · source %s · report %s · %s handler\n\n", seen, code(r.Source, false), code(r.ID, false), text(r.Handler))

	w("## What happened\n\n%s\n\n", spans(r.Summary))

	if len(r.Facts) > 0 {
		w("## Facts\n\n| | |\n|---|---|\n")
		for _, f := range r.Facts {
			label := prose(safe.Line(f.Label))
			if f.Label == "" {
				label = code(f.Field, true)
			}
			w("| %s | %s |\n", label, code(f.Value, true))
		}
		b.WriteString("\n")
	}

	evidence(&b, r.Evidence)

	w("## Why it matters\n\n%s\n\n", spans(r.Why))
	if len(r.MITRE) > 0 {
		w("| MITRE ATT&CK | Name | Tactic |\n|---|---|---|\n")
		for _, t := range r.MITRE {
			w("| %s | %s | %s |\n", text(t.ID), text(t.Name), text(t.Tactic))
		}
		b.WriteString("\n")
	}
	if len(r.Tags) > 0 {
		tags := make([]string, len(r.Tags))
		for i, t := range r.Tags {
			tags[i] = code(t, false)
		}
		w("Falco's tags on the rule: %s\n\n", strings.Join(tags, " "))
	}
	if r.Description != "" {
		w("Falco's description of the rule: %s\n\n", prose(r.Description))
	}

	steps(&b, "Investigation", r.Investigation, true)
	steps(&b, "False positives", r.FalsePositives, false)
	steps(&b, "Response and remediation", r.Remediation, true)

	if len(r.Samples) > 0 {
		w("## Values seen across occurrences\n\n")
		keys := make([]string, 0, len(r.Samples))
		for k := range r.Samples {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			w("- %s:", code(k, false))
			for _, v := range r.Samples[k] {
				w(" %s", code(v, false))
			}
			if n := r.SamplesNotShown[k]; n.Values > 0 {
				w(" and %s%d more distinct values not shown", map[bool]string{true: "at least "}[n.AtLeast], n.Values)
			}
			b.WriteString("\n")
		}
		if r.SampleFieldsNotShown > 0 {
			w("- %d more fields differed; they are not sampled\n", r.SampleFieldsNotShown)
		}
		b.WriteString("\n")
	}

	w("## Raw alert\n\n%s", fenced("json", rawAlert(r), ""))
	return []byte(b.String())
}

func steps(b *strings.Builder, title string, list []report.Step, numbered bool) {
	if len(list) == 0 {
		return
	}
	fmt.Fprintf(b, "## %s\n\n", title)
	for i, s := range list {
		marker := "-"
		if numbered {
			marker = fmt.Sprintf("%d.", i+1)
		}
		indent := strings.Repeat(" ", len(marker)+1)
		fmt.Fprintf(b, "%s %s\n", marker, spans(s.Text))
		if len(s.Answered) > 0 {
			fmt.Fprintf(b, "\n%s*Answered at alert time:* %s\n", indent, spans(s.Answered))
		}
		if len(s.Changes) > 0 {
			fmt.Fprintf(b, "\n%s*Changes:* %s\n", indent, spans(s.Changes))
		}
		if s.Command != "" {
			b.WriteString("\n" + fenced("sh", s.Command, indent))
		}
		if s.Config != "" {
			b.WriteString("\n" + fenced("yaml", s.Config, indent))
		}
		b.WriteString("\n")
	}
}

// spans renders report text: prose escaped, alert values as code spans,
// and text read back from a JSON report that does not say where its values
// are escaped as fully as a value. Adjacent prose is drawn as one, so that
// a report read back from its JSON (which keeps only where the values are)
// is drawn exactly as it was written.
func spans(t report.Text) string {
	var b strings.Builder
	for _, s := range t.Merged() {
		switch {
		case s.Value:
			b.WriteString(code(s.S, false))
		case s.Decoded:
			b.WriteString(text(s.S))
		default:
			b.WriteString(prose(s.S))
		}
	}
	return b.String()
}

// where ends the title line: the host for a syscall alert, or the Falco
// that reported an alert of another source (a Kubernetes audit event or a
// CloudTrail call did not happen "on" that host). Nothing when the alert
// named no host.
func where(r *report.Report) string {
	switch {
	case r.Hostname == "":
		return ""
	case r.Source == "syscall":
		return " on " + code(r.Hostname, false)
	}
	return " (" + code(r.Source, false) + ", reported by Falco on " + code(r.Hostname, false) + ")"
}

// rawAlert shows the alert exactly as the input received it, indented
// when it is whole JSON (indenting changes only white space: key order,
// duplicates and number text stay as sent). A report without the received
// text (built from an alert spooled by an older version) re-creates it as
// Falco's JSON, every string capped.
func rawAlert(r *report.Report) string {
	if r.Raw != "" {
		var b bytes.Buffer
		if json.Indent(&b, []byte(r.Raw), "", "  ") == nil {
			return string(jsonInvisible(b.Bytes()))
		}
		return r.Raw
	}
	fields := make(map[string]*string, len(r.Fields))
	for k, v := range r.Fields {
		if v != nil {
			s := safe.Cap(*v, MaxRawValue)
			v = &s
		}
		fields[safe.Cap(k, MaxRawValue)] = v
	}
	raw := struct {
		Hostname     string             `json:"hostname"`
		Output       string             `json:"output"`
		OutputFields map[string]*string `json:"output_fields"`
		Priority     string             `json:"priority"`
		Rule         string             `json:"rule"`
		Source       string             `json:"source"`
		Tags         []string           `json:"tags"`
		Time         string             `json:"time"`
	}{safe.Cap(r.Hostname, MaxRawValue), safe.Cap(r.Output, MaxRawValue), fields, r.Priority, safe.Cap(r.Rule, MaxRawValue), r.Source, capAll(r.Tags, MaxRawValue), r.FirstSeen.String()}
	out, err := json.MarshalIndent(raw, "", "  ")
	if err != nil {
		return "(alert could not be encoded: " + safe.Line(err.Error()) + ")"
	}
	return string(jsonInvisible(out))
}
