package journal

import (
	"errors"
	"strings"
	"testing"

	"github.com/coreos/go-systemd/v22/journal"
)

// fakeSend records entries instead of sending them.
type fakeSend struct {
	msgs []string
	pris []journal.Priority
	vars []map[string]string
	err  error
}

func (f *fakeSend) send(msg string, pri journal.Priority, vars map[string]string) error {
	f.msgs = append(f.msgs, msg)
	f.pris = append(f.pris, pri)
	f.vars = append(f.vars, vars)
	return f.err
}

func TestReporterSendValidates(t *testing.T) {
	tests := []struct {
		name    string
		entry   Entry
		sendErr error
		wantErr bool
		want    map[string]string
	}{
		{name: "ok", entry: Entry{Message: "m", Priority: 3, Fields: map[string]string{"falco.rule": "r\x1b"}},
			want: map[string]string{"FALCO_RULE": `r\x1b`, "SYSLOG_IDENTIFIER": Identifier}},
		{name: "reserved names are prefixed", entry: Entry{Message: "m", Priority: 3, Fields: map[string]string{"PRIORITY": "0", "SYSLOG_IDENTIFIER": "sshd"}},
			want: map[string]string{"X_PRIORITY": "0", "X_SYSLOG_IDENTIFIER": "sshd", "SYSLOG_IDENTIFIER": Identifier}},
		{name: "priority below range", entry: Entry{Priority: -1}, wantErr: true},
		{name: "priority above range", entry: Entry{Priority: 8}, wantErr: true},
		{name: "send error", entry: Entry{Priority: 6}, sendErr: errors.New("boom"), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeSend{err: tt.sendErr}
			err := (&Reporter{send: f.send}).Send(tt.entry)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Send error = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if len(f.vars) != 1 || f.pris[0] != journal.Priority(tt.entry.Priority) {
				t.Fatalf("sent %d entries, priorities %v", len(f.vars), f.pris)
			}
			checkFields(t, f.vars[0], tt.want)
		})
	}
}

func TestReporterReportJSON(t *testing.T) {
	ok := []byte(`{"id":"x","title":"caf\u00e9 é"}`)
	tests := []struct {
		name      string
		entry     Entry
		wantJSON  string // "": no REPORT_JSON
		truncated bool
		wantErr   bool
	}{
		{name: "whole", entry: Entry{ReportJSON: ok}, wantJSON: string(ok)},
		{name: "cut to fit", entry: Entry{ReportJSON: ok, ReportCut: true}, wantJSON: string(ok), truncated: true},
		{name: "none", entry: Entry{}},
		{name: "none, as it could not be made", entry: Entry{ReportCut: true}, truncated: true},
		{name: "too large", entry: Entry{ReportJSON: []byte(`"` + strings.Repeat("a", MaxReportJSON) + `"`)}, truncated: true, wantErr: true},
		{name: "a raw newline", entry: Entry{ReportJSON: []byte("{}\n")}, truncated: true, wantErr: true},
		{name: "a bidi override", entry: Entry{ReportJSON: []byte("\"\u202e\"")}, truncated: true, wantErr: true},
		{name: "not JSON", entry: Entry{ReportJSON: []byte(`{"id":`)}, truncated: true, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeSend{}
			tt.entry.Message, tt.entry.Priority = "m", 4
			tt.entry.Fields = map[string]string{FieldReportID: "x"}
			err := (&Reporter{send: f.send}).Send(tt.entry)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if len(f.vars) != 1 {
				t.Fatal("the entry was not sent")
			}
			v := f.vars[0]
			if v[FieldReportJSON] != tt.wantJSON || (v[FieldReportTruncated] == "1") != tt.truncated || v[FieldReportID] != "x" {
				t.Errorf("REPORT_JSON %.40q, REPORT_TRUNCATED %q", v[FieldReportJSON], v[FieldReportTruncated])
			}
		})
	}
}
