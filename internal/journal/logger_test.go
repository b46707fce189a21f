package journal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/rs/zerolog"
)

func TestNewLoggerJSON(t *testing.T) {
	var buf bytes.Buffer
	log, err := NewLogger(OutputJSON, zerolog.InfoLevel, &buf)
	if err != nil {
		t.Fatalf("NewLogger: %v", err)
	}
	log.Debug().Msg("hidden")
	log.Info().Str("falco_rule", "r\x1b").Msg("shown")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("got %d lines, want 1: %q", len(lines), buf.String())
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
		t.Fatalf("line %q: %v", lines[0], err)
	}
	if got["message"] != "shown" || got["level"] != "info" || got["falco_rule"] != "r\x1b" || got["time"] == nil {
		t.Errorf("line = %v", got)
	}
	if strings.ContainsRune(buf.String(), 0x1b) {
		t.Errorf("raw escape in JSON output %q", buf.String())
	}
}

func TestNewLoggerConsole(t *testing.T) {
	tests := []struct {
		output string
		env    string
	}{
		{OutputConsole, ""},
		{OutputAuto, ""},
		{OutputAuto, "1:2"},
		{OutputAuto, "garbage"},
	}
	for _, tt := range tests {
		t.Run(tt.output+"/"+tt.env, func(t *testing.T) {
			t.Setenv("JOURNAL_STREAM", tt.env)
			var buf bytes.Buffer
			log, err := NewLogger(tt.output, zerolog.DebugLevel, &buf)
			if err != nil {
				t.Fatalf("NewLogger: %v", err)
			}
			log.Warn().Str("falco_rule", "Shell\x1b[31m").Msg("alert\x1b[2J\nnext")
			out := buf.String()
			for _, want := range []string{"WRN", `alert\x1b[2J\nnext`, `falco_rule="Shell\x1b[31m"`} {
				if !strings.Contains(out, want) {
					t.Errorf("console output %q lacks %q", out, want)
				}
			}
			if strings.ContainsRune(out, 0x1b) || strings.Count(out, "\n") != 1 {
				t.Errorf("console output %q has raw control characters", out)
			}
		})
	}
}

func TestNewLoggerUnknownOutput(t *testing.T) {
	if _, err := NewLogger("syslog", zerolog.InfoLevel, &bytes.Buffer{}); err == nil {
		t.Fatal("NewLogger(syslog) succeeded, want error")
	}
}

func TestIsJournalStream(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	match := fmt.Sprintf("%d:%d", st.Dev, st.Ino)
	tests := []struct {
		name string
		w    io.Writer
		env  string
		want bool
	}{
		{"matching file", f, match, true},
		{"other inode", f, fmt.Sprintf("%d:%d", st.Dev, st.Ino+1), false},
		{"other device", f, fmt.Sprintf("%d:%d", st.Dev+1, st.Ino), false},
		{"unset", f, "", false},
		{"malformed", f, "abc", false},
		{"not a file", &bytes.Buffer{}, match, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isJournalStream(tt.w, tt.env); got != tt.want {
				t.Errorf("isJournalStream = %v, want %v", got, tt.want)
			}
		})
	}
}
