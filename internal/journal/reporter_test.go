package journal

import (
	"errors"
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
