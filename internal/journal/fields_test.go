package journal

import (
	"strings"
	"testing"

	"github.com/coreos/go-systemd/v22/journal"
	"github.com/rs/zerolog"
)

func TestFieldName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"falco_rule", "FALCO_RULE"},
		{"FALCO_RULE", "FALCO_RULE"},
		{"falco.rule", "FALCO_RULE"},
		{"k8s.pod.name", "K8S_POD_NAME"},
		{"proc-cmd line", "PROC_CMD_LINE"},
		{"évent", "X__VENT"},
		{"pod_é", "POD__"},
		{"1st", "X_1ST"},
		{"_hidden", "X__HIDDEN"},
		{".dot", "X__DOT"},
		{"", "X_"},
		{"message", "X_MESSAGE"},
		{"priority", "X_PRIORITY"},
		{"syslog_identifier", "X_SYSLOG_IDENTIFIER"},
		{"MESSAGE_ID", "MESSAGE_ID"},
		{strings.Repeat("a", 80), strings.Repeat("A", 64)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := FieldName(tt.in)
			if got != tt.want {
				t.Errorf("FieldName(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestLevelPriority(t *testing.T) {
	tests := []struct {
		level zerolog.Level
		want  journal.Priority
	}{
		{zerolog.TraceLevel, 7},
		{zerolog.DebugLevel, 7},
		{zerolog.InfoLevel, 6},
		{zerolog.WarnLevel, 4},
		{zerolog.ErrorLevel, 3},
		{zerolog.FatalLevel, 2},
		{zerolog.PanicLevel, 0},
		{zerolog.NoLevel, 5},
	}
	for _, tt := range tests {
		t.Run(tt.level.String(), func(t *testing.T) {
			if got := LevelPriority(tt.level); got != tt.want {
				t.Errorf("LevelPriority(%v) = %d, want %d", tt.level, got, tt.want)
			}
		})
	}
}
