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

func TestReporterCaps(t *testing.T) {
	long := strings.Repeat("\x7f", 100<<10)
	tests := []struct {
		name      string
		entry     Entry
		truncated bool
		dropped   []string // fields that must be gone
		kept      []string
	}{
		{name: "small entry untouched", entry: Entry{Message: "m", Fields: map[string]string{"A": "x"}}, kept: []string{"A"}},
		{name: "long field cut", entry: Entry{Message: "m", Fields: map[string]string{"A": long}}, truncated: true, kept: []string{"A"}},
		{name: "long message cut", entry: Entry{Message: long}, truncated: true},
		{name: "longest fields dropped first", truncated: true,
			entry: Entry{Message: long, Fields: map[string]string{
				"A": strings.Repeat("a", 1000), "B": strings.Repeat("b", 1000), "C": strings.Repeat("c", 1000), "D": strings.Repeat("d", 1000),
				"E": strings.Repeat("e", 990), "F": strings.Repeat("f", 900), "G": "g", "H": strings.Repeat("h", 1000), FieldReportID: "id", FieldReportPath: strings.Repeat("p", 1000)}},
			dropped: []string{"A", "B"}, kept: []string{"G", FieldReportID, FieldReportPath, "F"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeSend{}
			if err := (&Reporter{send: f.send}).Send(tt.entry); err != nil {
				t.Fatal(err)
			}
			vars, msg := f.vars[0], f.msgs[0]
			size := len(msg)
			for k, v := range vars {
				size += len(k) + len(v)
				if len(v) > MaxFieldValue+64 {
					t.Errorf("%s has %d bytes", k, len(v))
				}
			}
			if size > MaxEntry+128 {
				t.Errorf("entry of %d bytes", size)
			}
			if len(msg) > MaxMessage+64 {
				t.Errorf("message of %d bytes", len(msg))
			}
			if got := vars[FieldTruncated] == "1"; got != tt.truncated {
				t.Errorf("TRUNCATED = %q, want %v", vars[FieldTruncated], tt.truncated)
			}
			for _, k := range tt.dropped {
				if _, ok := vars[k]; ok {
					t.Errorf("%s kept, want dropped", k)
				}
			}
			for _, k := range tt.kept {
				if _, ok := vars[k]; !ok {
					t.Errorf("%s dropped, want kept", k)
				}
			}
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
