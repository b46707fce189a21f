package app

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/journal"
	"github.com/falco-reporter/falco-reporter/internal/stream"
)

// TestJournalEntryPerReport reads back, from a real journald, the entry
// written for a report.
func TestJournalEntryPerReport(t *testing.T) {
	if _, err := os.Stat(journal.SocketPath); err != nil {
		if os.Getenv("FALCO_REPORTER_REQUIRE_JOURNAL") == "1" {
			t.Fatalf("no journald socket at %s", journal.SocketPath)
		}
		t.Skip("no journald: run .ci/journald.sh")
	}
	cfg := testConfig(t)
	cfg.Journal.Reports = true
	a := alert("Read sensitive file untrusted", 7)
	a.Priority = event.PriorityCritical
	a.Hostname = "node-\x1b[31m-1"
	col := newCollector()
	stop := start(t, cfg, Options{Sources: []stream.Source{&directSource{n: 1, alerts: func(int) event.Alert { return a }}, &chanSource{ch: make(chan event.Alert)}}, Written: col.written})
	waitFor(t, "a report", func() bool { n, _ := col.occurrences(); return n == 1 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	id := firstID(col)
	var entry map[string]any
	waitFor(t, "the journal entry", func() bool {
		out, _ := exec.Command("journalctl", "-o", "json", "--all", "--no-pager", "-q", "REPORT_ID="+id, "REPORT_PATH="+col.paths[id]).Output()
		lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
		if len(lines) == 0 || len(lines[0]) == 0 {
			time.Sleep(50 * time.Millisecond)
			return false
		}
		return json.Unmarshal(lines[0], &entry) == nil
	})
	want := map[string]string{
		"PRIORITY": "2", "SYSLOG_IDENTIFIER": "falco-reporter", "FALCO_RULE": "Read sensitive file untrusted",
		"FALCO_PRIORITY": "Critical", "FALCO_SOURCE": "syscall", "FALCO_HOSTNAME": `node-\x1b[31m-1`, "OCCURRENCES": "1",
		"REPORT_PATH": col.paths[id],
	}
	for k, v := range want {
		if entry[k] != v {
			t.Errorf("%s = %v, want %q", k, entry[k], v)
		}
	}
	if msg, _ := entry["MESSAGE"].(string); !bytes.Contains([]byte(msg), []byte("Critical: Read sensitive file untrusted on node-")) {
		t.Errorf("MESSAGE = %q", msg)
	}
}
