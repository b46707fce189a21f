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
	HandlerStorm     = "storm"     // a storm report: one rule's flood of alerts on one host
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
	// differed from the first alert's, by field name: the first ones seen,
	// then the most recent ones, so that the last thing done is shown.
	Samples map[string][]string `json:"samples,omitempty"`
	// SamplesNotShown counts, by field name, the distinct values that
	// differed but are not in Samples.
	SamplesNotShown map[string]NotShown `json:"samples_not_shown,omitempty"`
	// SampleFieldsNotShown counts the fields that differed but are not
	// sampled at all (a sample holds a bounded number of fields).
	SampleFieldsNotShown int `json:"sample_fields_not_shown,omitempty"`

	// Spool is the position, in the daemon's spool, of the alert that
	// opened the report (its id is derived from it) and of the last alert
	// it counts. A replay after a crash uses them to count each alert once.
	Spool *SpoolRange `json:"spool,omitempty"`

	// Storm is set on a storm report: one rule opened more incidents on one
	// host than the storm threshold allows, and its further alerts are
	// counted here.
	Storm *StormInfo `json:"storm,omitempty"`

	// Fields are the alert's output fields; a nil value is a JSON null.
	Fields map[string]*string `json:"fields"`

	// Recovered names the fields that Falco did not send in output_fields
	// and that were read back from the output text instead.
	Recovered []string `json:"recovered,omitempty"`

	// Raw is the first alert exactly as the input received it (capped at
	// 64 KiB): Falco's JSON text, or a gRPC message's fields as JSON.
	Raw string `json:"raw,omitempty"`

	// Evidence is the snapshot taken on the host at alert time, or why
	// none was; nil where evidence does not apply (see Evidence).
	Evidence *Evidence `json:"evidence,omitempty"`
}

// NotShown is how many distinct values of a field were not shown.
type NotShown struct {
	Values  int  `json:"values"`
	AtLeast bool `json:"at_least,omitempty"` // counting stopped: there were more
}

// SpoolRange is the spool positions of a report's first and last alert.
type SpoolRange struct {
	First uint64 `json:"first"`
	Last  uint64 `json:"last"`
}

// StormInfo is what a storm report adds to a report. The report's
// occurrences, first_seen and last_seen are the storm's.
type StormInfo struct {
	Threshold int           `json:"threshold"` // incidents per window that start a storm
	Window    string        `json:"window"`    // e.g. "1m0s"
	Ended     bool          `json:"ended"`     // the rule was quiet for a whole window
	Fields    []StormField  `json:"fields"`    // the rule's key fields and the values they took
	Before    []IncidentRef `json:"incidents_before"`
}

// StormField is the values one key field took during a storm.
type StormField struct {
	Field           string       `json:"field"`
	Values          []ValueCount `json:"values"`                      // among the first distinct values seen, the most frequent, with counts
	Recent          []string     `json:"recent"`                      // the most recent distinct values, oldest first
	Distinct        int          `json:"distinct"`                    // distinct values seen
	DistinctAtLeast bool         `json:"distinct_at_least,omitempty"` // counting stopped: there were more
	OtherAlerts     int          `json:"other_alerts"`                // alerts whose value is not in Values
}

// ValueCount is one value and how many alerts had it.
type ValueCount struct {
	Value string `json:"value"`
	Count int    `json:"count"`
}

// IncidentRef names another report: its id, its path relative to the
// reports directory, and when it was first seen.
type IncidentRef struct {
	ID        string `json:"id"`
	Path      string `json:"path"`
	FirstSeen Time   `json:"first_seen"`
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
// Decoded is set on text read back from a JSON report that does not say
// where its values are (no value_spans): renderers then escape all of it
// as they would a value.
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

// MarshalJSON encodes t as one string. Report.MarshalJSON adds where its
// values are (ValueSpans).
func (t Text) MarshalJSON() ([]byte, error) { return json.Marshal(t.jsonString()) }

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
