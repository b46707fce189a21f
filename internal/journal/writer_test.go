package journal

import (
	"errors"
	"testing"

	"github.com/coreos/go-systemd/v22/journal"
	"github.com/rs/zerolog"
)

func TestWriterMapsLogLines(t *testing.T) {
	tests := []struct {
		name     string
		log      func(zerolog.Logger)
		wantMsg  string
		wantPri  journal.Priority
		want     map[string]string
		wantGone []string
	}{
		{
			name:    "fields upper-cased, dots kept as underscores",
			log:     func(l zerolog.Logger) { l.Info().Str("falco_rule", "r").Str("k8s.ns.name", "default").Msg("hello") },
			wantMsg: "hello", wantPri: 6,
			want:     map[string]string{"FALCO_RULE": "r", "K8S_NS_NAME": "default", "SYSLOG_IDENTIFIER": Identifier},
			wantGone: []string{"LEVEL", "TIME", "MESSAGE"},
		},
		{
			name: "typed values",
			log: func(l zerolog.Logger) {
				l.Warn().Int("n", 42).Bool("ok", true).Strs("tags", []string{"a", "b"}).Interface("nil", nil).Msg("")
			},
			wantPri: 4,
			want:    map[string]string{"N": "42", "OK": "true", "TAGS": `["a","b"]`, "NIL": "null"},
		},
		{
			name: "control characters escaped in values and message",
			log: func(l zerolog.Logger) {
				l.Error().Str("cmd", "a\x1b[31m\nb").Err(errors.New("x\ty")).Msg("m\x1b]0;t\x07")
			},
			wantMsg: `m\x1b]0;t\x07: x\ty`, wantPri: 3,
			want: map[string]string{"CMD": `a\x1b[31m\nb`, "ERROR": `x\ty`},
		},
		{
			name: "error text in the message as well as in ERROR",
			log: func(l zerolog.Logger) {
				l.Error().Err(errors.New("spool: open /s: permission denied")).Msg("falco-reporter stopped")
			},
			wantMsg: "falco-reporter stopped: spool: open /s: permission denied", wantPri: 3,
			want: map[string]string{"ERROR": "spool: open /s: permission denied"},
		},
		{
			name: "warning with an error",
			log: func(l zerolog.Logger) {
				l.Warn().Err(errors.New("permission denied")).Msg("cannot open the file; retrying")
			},
			wantMsg: "cannot open the file; retrying: permission denied", wantPri: 4,
			want: map[string]string{"ERROR": "permission denied"},
		},
		{
			name: "warning with a reason",
			log: func(l zerolog.Logger) {
				l.Warn().Str("reason", "connection refused").Msg("cannot reach falco, retrying")
			},
			wantMsg: "cannot reach falco, retrying: connection refused", wantPri: 4,
			want: map[string]string{"REASON": "connection refused"},
		},
		{
			name: "error preferred to reason",
			log: func(l zerolog.Logger) {
				l.Error().Str("reason", "r").Err(errors.New("e")).Msg("m")
			},
			wantMsg: "m: e", wantPri: 3,
		},
		{
			name:    "fatal with an error and no message",
			log:     func(l zerolog.Logger) { l.WithLevel(zerolog.FatalLevel).Err(errors.New("boom")).Msg("") },
			wantMsg: "boom", wantPri: 2,
		},
		{
			name:    "error already in the message is not repeated",
			log:     func(l zerolog.Logger) { l.Error().Err(errors.New("disk full")).Msg("write failed: disk full") },
			wantMsg: "write failed: disk full", wantPri: 3,
		},
		{
			name:    "info keeps its message",
			log:     func(l zerolog.Logger) { l.Info().Err(errors.New("e")).Str("reason", "r").Msg("m") },
			wantMsg: "m", wantPri: 6,
			want: map[string]string{"ERROR": "e", "REASON": "r"},
		},
		{
			name:    "fatal level",
			log:     func(l zerolog.Logger) { l.WithLevel(zerolog.FatalLevel).Msg("f") },
			wantMsg: "f", wantPri: 2,
		},
		{
			name:    "panic level",
			log:     func(l zerolog.Logger) { l.WithLevel(zerolog.PanicLevel).Msg("p") },
			wantMsg: "p", wantPri: 0,
		},
		{
			name:    "no level",
			log:     func(l zerolog.Logger) { l.Log().Str("priority", "high").Msg("n") },
			wantMsg: "n", wantPri: 5,
			want: map[string]string{"X_PRIORITY": "high"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeSend{}
			tt.log(zerolog.New(writer{send: f.send}).With().Timestamp().Logger())
			if len(f.msgs) != 1 {
				t.Fatalf("sent %d entries, want 1", len(f.msgs))
			}
			if f.msgs[0] != tt.wantMsg || f.pris[0] != tt.wantPri {
				t.Errorf("sent (%q, %d), want (%q, %d)", f.msgs[0], f.pris[0], tt.wantMsg, tt.wantPri)
			}
			checkFields(t, f.vars[0], tt.want)
			for _, k := range tt.wantGone {
				if v, ok := f.vars[0][k]; ok {
					t.Errorf("field %s = %q, want none", k, v)
				}
			}
		})
	}
}

func TestWriterWrite(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		sendErr error
		wantPri journal.Priority
		wantErr bool
	}{
		{name: "level from line", line: `{"level":"warn","message":"m"}`, wantPri: 4},
		{name: "no level", line: `{"message":"m"}`, wantPri: 5},
		{name: "unknown level", line: `{"level":"loud","message":"m"}`, wantPri: 5},
		{name: "not json", line: `level=info`, wantErr: true},
		{name: "send fails", line: `{"message":"m"}`, sendErr: errors.New("down"), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeSend{err: tt.sendErr}
			n, err := writer{send: f.send}.Write([]byte(tt.line))
			if (err != nil) != tt.wantErr {
				t.Fatalf("Write error = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if n != len(tt.line) || f.pris[0] != tt.wantPri {
				t.Errorf("Write = %d, priority %d; want %d, %d", n, f.pris[0], len(tt.line), tt.wantPri)
			}
		})
	}
}
