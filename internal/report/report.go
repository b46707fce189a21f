// Package report defines the incident report: the structured result of
// handling an alert, before it is rendered to Markdown or JSON.
//
// The JSON encoding of Report is the documented machine format
// (docs/report-schema.json describes it); field names are part of the API.
package report

import (
	"encoding/json"
	"strings"
	"time"
)

// Handler kinds, as reported in Report.Handler.
const (
	HandlerDedicated = "dedicated" // a playbook written for this rule
	HandlerGeneric   = "generic"   // built from the alert's tags and fields alone
)

// Report is one incident: one alert, or several folded together.
type Report struct {
	ID          string   `json:"id"`
	Rule        string   `json:"rule"`
	Source      string   `json:"source"`
	Priority    string   `json:"priority"`
	Hostname    string   `json:"hostname"`
	Tags        []string `json:"tags"`
	Output      string   `json:"output"`
	FirstSeen   Time     `json:"first_seen"`
	LastSeen    Time     `json:"last_seen"`
	Occurrences int      `json:"occurrences"`
	Handler     string   `json:"handler"`

	Title       Text   `json:"title"`
	Summary     Text   `json:"summary"`
	Description string `json:"description,omitempty"` // the rule's own desc from Falco's rules file
	Why         Text   `json:"why"`                   // what an attacker gains

	MITRE          []Technique `json:"mitre"`
	Facts          []Fact      `json:"facts"`
	Investigation  []Step      `json:"investigation"`
	FalsePositives []Step      `json:"false_positives"`
	Remediation    []Step      `json:"remediation"`

	// Samples holds, for a folded incident, a bounded set of values that
	// differed between occurrences, by field name.
	Samples map[string][]string `json:"samples,omitempty"`

	// Fields are the alert's output fields; a nil value is a JSON null.
	Fields map[string]*string `json:"fields"`

	// Evidence is the snapshot taken on the host at alert time, or why
	// none was; nil where evidence does not apply (see Evidence).
	Evidence *Evidence `json:"evidence,omitempty"`
}

// Technique is one MITRE ATT&CK technique: its id, its name and the tactic
// it serves in this rule.
type Technique struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Tactic string `json:"tactic"`
}

// Fact is one labelled value shown in the facts table. A fact the generic
// handler takes straight from the alert has no label of falco-reporter's
// own: Field names it, and renderers show the field name as a value, since
// an alert's field names are as untrusted as its values.
type Fact struct {
	Label string `json:"label,omitempty"`
	Field string `json:"field,omitempty"`
	Value string `json:"value"`
}

// Step is one thing to check or do.
type Step struct {
	Text    Text   `json:"text"`
	Command string `json:"command,omitempty"` // a shell command, values already quoted
	Changes Text   `json:"changes,omitempty"` // for a response step that changes something: what it changes
	Config  string `json:"config,omitempty"`  // a YAML snippet, e.g. a Falco rule exception
	// Answered says what the evidence taken at alert time already shows
	// for this step; the command stays for a second look.
	Answered Text `json:"answered,omitempty"`
}

// Text is prose in which some spans are values taken from the alert. JSON
// sees it as one plain string; Markdown shows the value spans as code.
type Text []Span

// Span is a run of prose or, when Value is set, one alert value.
//
// Decoded is set on text read back from a JSON report, where prose and
// values are no longer told apart: renderers then escape all of it as they
// would a value.
type Span struct {
	S       string
	Value   bool
	Decoded bool
}

// Plain returns t as one string.
func Plain(s string) Text { return Text{{S: s}} }

// String returns the text with values inline.
func (t Text) String() string {
	var b strings.Builder
	for _, s := range t {
		b.WriteString(s.S)
	}
	return b.String()
}

// MarshalJSON encodes t as one string.
func (t Text) MarshalJSON() ([]byte, error) { return json.Marshal(t.String()) }

// UnmarshalJSON decodes a string into a single span marked Decoded.
func (t *Text) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*t = Text{{S: s, Decoded: true}}
	return nil
}

// TimeFormat is RFC 3339 in UTC with all nine digits of nanoseconds, as
// Falco prints its times.
const TimeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// Time is a time that encodes in JSON as TimeFormat.
type Time struct{ time.Time }

// String returns t in TimeFormat, in UTC.
func (t Time) String() string { return t.UTC().Format(TimeFormat) }

// MarshalJSON encodes t in TimeFormat.
func (t Time) MarshalJSON() ([]byte, error) { return json.Marshal(t.String()) }

// UnmarshalJSON decodes any RFC 3339 time.
func (t *Time) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	t.Time = v
	return err
}
