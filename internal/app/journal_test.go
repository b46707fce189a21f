package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
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

// journalEntries returns every entry of report id in the journal, once
// at least want are there.
func journalEntries(t *testing.T, id string, want int) []map[string]any {
	t.Helper()
	var entries []map[string]any
	waitFor(t, "the journal entries", func() bool {
		out, _ := exec.Command("journalctl", "-o", "json", "--all", "--no-pager", "-q", "REPORT_ID="+id).Output()
		entries = entries[:0]
		for _, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
			var e map[string]any
			if json.Unmarshal(line, &e) == nil {
				entries = append(entries, e)
			}
		}
		if len(entries) < want {
			time.Sleep(50 * time.Millisecond)
			return false
		}
		return true
	})
	return entries
}

// TestJournalEntryCarriesTheReport: with journal.report_json, every write
// of a folding incident sends an entry with the report as it stands, and
// the last one is the final report, byte for byte the JSON file.
func TestJournalEntryCarriesTheReport(t *testing.T) {
	if _, err := os.Stat(journal.SocketPath); err != nil {
		if os.Getenv("FALCO_REPORTER_REQUIRE_JOURNAL") == "1" {
			t.Fatalf("no journald socket at %s", journal.SocketPath)
		}
		t.Skip("no journald: run .ci/journald.sh")
	}
	run := time.Now().UnixNano()
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprint("report_json=", on), func(t *testing.T) {
			cfg := testConfig(t)
			cfg.Journal.Reports, cfg.Journal.ReportJSON = true, on
			ch := make(chan event.Alert)
			col := newCollector()
			stop := start(t, cfg, Options{Sources: []stream.Source{&chanSource{ch: ch}}, Written: col.written})
			for i := range 3 {
				a := alert("Read sensitive file untrusted", 7)
				a.Time = a.Time.Add(time.Duration(i) * time.Second)
				// Report ids come from the spool position and the alert's
				// bytes: each subtest's (and each run's) alert differs, so
				// that it does not read another's journal entries under
				// the same id.
				a.Hostname = fmt.Sprintf("node-%d-%v", run, on)
				ch <- a
				waitFor(t, "the update", func() bool { _, n := col.occurrences(); return n == i+1 })
			}
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			id := firstID(col)
			entries := journalEntries(t, id, 3)
			var last map[string]any
			occ := func(e map[string]any) int { n, _ := strconv.Atoi(e["OCCURRENCES"].(string)); return n }
			for _, e := range entries {
				if last == nil || occ(e) > occ(last) {
					last = e
				}
			}
			if last["OCCURRENCES"] != "3" {
				t.Fatalf("highest OCCURRENCES %v in %d entries", last["OCCURRENCES"], len(entries))
			}
			js, has := last["REPORT_JSON"].(string)
			if has != on {
				t.Fatalf("REPORT_JSON present: %v", has)
			}
			if _, cut := last["REPORT_TRUNCATED"]; cut {
				t.Error("REPORT_TRUNCATED on a small report")
			}
			if !on {
				return
			}
			file, err := os.ReadFile(strings.TrimSuffix(col.paths[id], ".md") + ".json")
			if err != nil {
				t.Fatal(err)
			}
			if js+"\n" != string(file) {
				t.Errorf("REPORT_JSON is not the final JSON report:\n%.300s\n%.300s", js, file)
			}
		})
	}
}
