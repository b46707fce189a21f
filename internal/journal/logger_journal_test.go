package journal

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/rs/zerolog"
)

func TestJournalLoggerEntries(t *testing.T) {
	requireJournal(t)
	id := newRunID(t)
	log, err := NewLogger(OutputJournal, zerolog.TraceLevel, os.Stderr)
	if err != nil {
		t.Fatalf("NewLogger: %v", err)
	}
	log = log.With().Str("test_run_id", id).Logger()
	tests := []struct {
		level zerolog.Level
		want  string
	}{
		{zerolog.TraceLevel, "7"},
		{zerolog.DebugLevel, "7"},
		{zerolog.InfoLevel, "6"},
		{zerolog.WarnLevel, "4"},
		{zerolog.ErrorLevel, "3"},
		{zerolog.FatalLevel, "2"},
		{zerolog.PanicLevel, "0"},
	}
	for _, tt := range tests {
		// WithLevel logs at fatal and panic without exiting or panicking.
		log.WithLevel(tt.level).
			Str("falco_rule", "Terminal shell").
			Str("k8s.pod.name", "web-1").
			Str("proc.cmdline", "sh -c \x1b[31mred\nline").
			Int("occurrences", 3).
			Msg("level " + tt.level.String())
	}
	byMsg := map[string]map[string]string{}
	for _, e := range readEntries(t, len(tests), "TEST_RUN_ID="+id) {
		byMsg[e["MESSAGE"]] = e
	}
	for _, tt := range tests {
		t.Run(tt.level.String(), func(t *testing.T) {
			e, ok := byMsg["level "+tt.level.String()]
			if !ok {
				t.Fatalf("no entry for level %s", tt.level)
			}
			checkFields(t, e, map[string]string{
				"PRIORITY":          tt.want,
				"SYSLOG_IDENTIFIER": Identifier,
				"FALCO_RULE":        "Terminal shell",
				"K8S_POD_NAME":      "web-1",
				"PROC_CMDLINE":      `sh -c \x1b[31mred\nline`,
				"OCCURRENCES":       "3",
			})
			checkNoControl(t, e, "PROC_CMDLINE")
			for _, k := range []string{"LEVEL", "TIME", "JSON"} {
				if v, ok := e[k]; ok {
					t.Errorf("field %s = %q, want none", k, v)
				}
			}
		})
	}
}

func TestAutoLoggerPicksJournalStream(t *testing.T) {
	requireJournal(t)
	id := newRunID(t)
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
	t.Setenv("JOURNAL_STREAM", fmt.Sprintf("%d:%d", st.Dev, st.Ino))

	log, err := NewLogger(OutputAuto, zerolog.InfoLevel, f)
	if err != nil {
		t.Fatalf("NewLogger: %v", err)
	}
	log.Info().Str("test_run_id", id).Msg("auto")
	got := readEntries(t, 1, "TEST_RUN_ID="+id)
	checkFields(t, got[0], map[string]string{"MESSAGE": "auto", "PRIORITY": "6", "_TRANSPORT": "journal"})
	if fi, err := f.Stat(); err != nil || fi.Size() != 0 {
		t.Errorf("stderr file got %d bytes (err %v), want none: auto should use the native protocol", fi.Size(), err)
	}
}

// TestJournalMessageCarriesError reads the entries back the way an admin
// does, with `journalctl -o cat` (MESSAGE only): the error of a warning or
// worse must be there, not only in the ERROR field.
func TestJournalMessageCarriesError(t *testing.T) {
	requireJournal(t)
	id := newRunID(t)
	log, err := NewLogger(OutputJournal, zerolog.InfoLevel, os.Stderr)
	if err != nil {
		t.Fatalf("NewLogger: %v", err)
	}
	log = log.With().Str("test_run_id", id).Logger()
	denied := &fs.PathError{Op: "open", Path: "/var/lib/falco-reporter/spool", Err: syscall.EACCES}
	log.Info().Msg("falco-reporter started")
	log.Warn().Err(denied).Msg("cannot save the read position")
	log.Error().Err(fmt.Errorf("spool: %w", denied)).Msg("falco-reporter stopped")
	readEntries(t, 3, "TEST_RUN_ID="+id)

	out, err := exec.Command("journalctl", "-o", "cat", "--no-pager", "TEST_RUN_ID="+id).Output()
	if err != nil {
		t.Fatalf("journalctl -o cat: %v", err)
	}
	want := "falco-reporter started\n" +
		"cannot save the read position: open /var/lib/falco-reporter/spool: permission denied\n" +
		"falco-reporter stopped: spool: open /var/lib/falco-reporter/spool: permission denied\n"
	if string(out) != want {
		t.Errorf("journalctl -o cat:\n%s\nwant:\n%s", out, want)
	}
	e := readEntries(t, 1, "TEST_RUN_ID="+id, "PRIORITY=3")[0]
	checkFields(t, e, map[string]string{"ERROR": "spool: open /var/lib/falco-reporter/spool: permission denied"})
}
