package journal

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/falco-reporter/falco-reporter/internal/event"
)

func newTestReporter(t *testing.T) *Reporter {
	t.Helper()
	requireJournal(t)
	r, err := NewReporter()
	if err != nil {
		t.Fatalf("NewReporter: %v", err)
	}
	return r
}

func TestReporterSendsEveryField(t *testing.T) {
	r := newTestReporter(t)
	id := newRunID(t)
	fields := map[string]string{
		FieldRule:        "Terminal shell in container",
		FieldPriority:    "Warning",
		FieldSource:      "syscall",
		FieldHostname:    "node-1",
		FieldReportID:    "20260101T000000Z-terminal-shell-1a2b",
		FieldReportPath:  "/var/lib/falco-reporter/reports/x.md",
		FieldOccurrences: "3",
		"TEST_RUN_ID":    id,
	}
	if err := r.Send(Entry{Message: "Terminal shell in container on node-1", Priority: 4, Fields: fields}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := readEntries(t, 1, "TEST_RUN_ID="+id)
	if len(got) != 1 {
		t.Fatalf("got %d entries, want 1", len(got))
	}
	want := map[string]string{
		"MESSAGE":           "Terminal shell in container on node-1",
		"PRIORITY":          "4",
		"SYSLOG_IDENTIFIER": "falco-reporter",
		"_TRANSPORT":        "journal",
	}
	for k, v := range fields {
		want[k] = v
	}
	checkFields(t, got[0], want)
}

func TestReporterPriorityPerFalcoPriority(t *testing.T) {
	r := newTestReporter(t)
	id := newRunID(t)
	tests := []struct {
		falco event.Priority
		want  string
	}{
		{event.PriorityEmergency, "0"},
		{event.PriorityAlert, "1"},
		{event.PriorityCritical, "2"},
		{event.PriorityError, "3"},
		{event.PriorityWarning, "4"},
		{event.PriorityNotice, "5"},
		{event.PriorityInformational, "6"},
		{event.PriorityDebug, "7"},
	}
	for _, tt := range tests {
		e := Entry{
			Message:  "priority " + tt.falco.String(),
			Priority: int(tt.falco),
			Fields:   map[string]string{FieldPriority: tt.falco.String(), "TEST_RUN_ID": id},
		}
		if err := r.Send(e); err != nil {
			t.Fatalf("Send %s: %v", tt.falco, err)
		}
	}
	byName := map[string]map[string]string{}
	for _, e := range readEntries(t, len(tests), "TEST_RUN_ID="+id) {
		byName[e[FieldPriority]] = e
	}
	for _, tt := range tests {
		t.Run(tt.falco.String(), func(t *testing.T) {
			e, ok := byName[tt.falco.String()]
			if !ok {
				t.Fatalf("no entry with %s=%s", FieldPriority, tt.falco)
			}
			checkFields(t, e, map[string]string{"PRIORITY": tt.want, "MESSAGE": "priority " + tt.falco.String()})
		})
	}
}

// TestReporterEntryIsBounded: a megabyte of DEL characters, which escaping
// would turn into four megabytes, makes an entry of a few kilobytes that
// says it was cut, and keeps the fields that identify the report.
func TestReporterEntryIsBounded(t *testing.T) {
	r := newTestReporter(t)
	id := newRunID(t)
	del := strings.Repeat("\x7f", 1<<20)
	fields := map[string]string{
		FieldRule: del, FieldHostname: del, "PROC_CMDLINE": del, "FD_NAME": strings.Repeat("a", 900),
		FieldReportID: "0000000000010abc", FieldReportPath: "/r/2026-04-02/x.md", FieldOccurrences: "7", "TEST_RUN_ID": id,
	}
	if err := r.Send(Entry{Message: "Critical: " + del, Priority: 2, Fields: fields}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := readEntries(t, 1, "TEST_RUN_ID="+id)[0]
	size := 0
	for k, v := range got {
		if !strings.HasPrefix(k, "_") && !strings.HasPrefix(k, "__") {
			size += len(k) + len(v)
		}
	}
	if size > MaxEntry+512 {
		t.Errorf("entry of %d bytes, want about %d at most", size, MaxEntry)
	}
	checkFields(t, got, map[string]string{FieldTruncated: "1", FieldReportID: "0000000000010abc", FieldReportPath: "/r/2026-04-02/x.md",
		FieldOccurrences: "7", "FD_NAME": strings.Repeat("a", 900)})
	if !strings.HasPrefix(got["MESSAGE"], `Critical: \x7f\x7f`) || !strings.Contains(got["MESSAGE"], "truncated") {
		t.Errorf("MESSAGE = %.80q...", got["MESSAGE"])
	}
	checkNoControl(t, got, "MESSAGE", FieldRule, "PROC_CMDLINE")
}

func TestReporterEscapesControlCharacters(t *testing.T) {
	r := newTestReporter(t)
	id := newRunID(t)
	tests := []struct {
		name, value, want string
	}{
		{"ansi", "sh -c \x1b[31mred", `sh -c \x1b[31mred`},
		{"newline", "first\nsecond", `first\nsecond`},
		{"both", "\x1b[2J\r\nfake: ok\x00", `\x1b[2J\r\nfake: ok\x00`},
		{"bidi", "evil\u202etxt.sh", `evil\u202etxt.sh`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := "TEST_CASE_" + strconv.Itoa(i)
			e := Entry{Message: tt.value, Priority: 6, Fields: map[string]string{FieldRule: tt.value, "TEST_RUN_ID": id, "TEST_CASE": key}}
			if err := r.Send(e); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := readEntries(t, 1, "TEST_RUN_ID="+id, "TEST_CASE="+key)
			checkFields(t, got[0], map[string]string{"MESSAGE": tt.want, FieldRule: tt.want})
			checkNoControl(t, got[0], "MESSAGE", FieldRule)
		})
	}
}

// TestReporterReportJSONArrivesWhole: a report's JSON, near the limit and
// beyond one datagram, is in the journal byte for byte.
func TestReporterReportJSONArrivesWhole(t *testing.T) {
	r := newTestReporter(t)
	id := newRunID(t)
	var b strings.Builder
	b.WriteString(`{"id":"x","chunks":[`)
	for i := 0; b.Len() < MaxReportJSON-100; i++ {
		fmt.Fprintf(&b, `"chunk %06d é ✓",`, i)
	}
	b.WriteString(`"end"]}`)
	js := b.String()
	err := r.Send(Entry{Message: "large", Priority: 6, Fields: map[string]string{"TEST_RUN_ID": id}, ReportJSON: []byte(js)})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := readEntries(t, 1, "TEST_RUN_ID="+id)
	checkFields(t, got[0], map[string]string{FieldReportJSON: js})
	if _, ok := got[0][FieldReportTruncated]; ok {
		t.Error("REPORT_TRUNCATED set on a whole report")
	}
}
