package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/query/querytest"
	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/vltest"
)

// fleetFilter lets through the entries these tests send, which come from
// no systemd unit.
const fleetFilter = `SYSLOG_IDENTIFIER:="falco-reporter"`

// TestFleetCommandsMatchLocal loads the demo's reports into a real
// VictoriaLogs as their journal entries, and checks that list and show
// print from the fleet exactly what they print from the directory.
func TestFleetCommandsMatchLocal(t *testing.T) {
	vl := vltest.Start(t)
	dir := demoDir(t)
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.json"))
	if len(files) < 10 {
		t.Fatalf("%d demo reports", len(files))
	}
	var entries []vltest.Entry
	var ids []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var r report.Report
		if err := json.Unmarshal(data, &r); err != nil {
			t.Fatal(err)
		}
		e, err := querytest.JournalEntry(&r, strings.TrimSuffix(f, ".json")+".md", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if e["REPORT_JSON"]+"\n" != string(data) {
			t.Fatalf("%s: REPORT_JSON is not the file", f)
		}
		entries = append(entries, e)
		ids = append(ids, r.ID)
	}
	vl.Ingest(t, entries)
	vl.Flush(t)
	fleet := []string{"--fleet", vl.URL, "--fleet-filter", fleetFilter}

	for _, args := range [][]string{nil, {"--priority", "warning"}, {"--host", "NODE-7"}, {"--rule", "*shell*", "--json"}, {"--container", "c0ffee1234ab"}} {
		local, _, code := runBin(t, "", append([]string{"list", "--dir", dir}, args...)...)
		if code != 0 {
			t.Fatalf("list %v: exit %d", args, code)
		}
		got, errOut, code := runBin(t, "", append(append([]string{"list"}, fleet...), args...)...)
		if len(args) > 0 && args[len(args)-1] == "--json" {
			// The fleet knows the one path the journal entry gives.
			local, got = withoutFiles(t, local), withoutFiles(t, got)
		}
		if code != 0 || got != local {
			t.Errorf("list --fleet %v: exit %d\n%s\nfleet:\n%s\nlocal:\n%s", args, code, errOut, got, local)
		}
	}
	for i, id := range ids {
		for _, format := range []string{"markdown", "json"}[:1+min(1, i%4)] {
			local, _, _ := runBin(t, "", "show", "--dir", dir, "--format", format, id)
			got, errOut, code := runBin(t, "", append(append([]string{"show"}, fleet...), "--format", format, id[:8])...)
			if code != 0 || got != local || local == "" {
				t.Errorf("show --fleet --format %s %s: exit %d %s", format, id, code, errOut)
			}
		}
	}
	out, _, code := runBin(t, "", append(append([]string{"summary"}, fleet...), "--since", "2026-04-01")...)
	if code != 0 || !strings.Contains(out, "13") {
		t.Errorf("summary --fleet: %d\n%s", code, out)
	}
}

// withoutFiles drops "files" from each line of list --json.
func withoutFiles(t *testing.T, out string) string {
	t.Helper()
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("%v: %q", err, line)
		}
		if f, ok := e["files"].(map[string]any); !ok || f["markdown"] == nil {
			t.Errorf("no Markdown path: %q", line)
		}
		delete(e, "files")
		js, _ := json.Marshal(e)
		b.Write(append(js, '\n'))
	}
	return b.String()
}

// TestFleetCommandErrors: what a user gets wrong is said plainly, and a
// password never appears.
func TestFleetCommandErrors(t *testing.T) {
	tests := []struct {
		args []string
		env  []string
		want string
		code int
	}{
		{args: []string{"list", "--fleet", "https://admin:hunter2@logs.example"}, want: "process list", code: 1},
		{args: []string{"list", "--fleet", "http://127.0.0.1:1", "--dir", "/tmp"}, want: "not both", code: 1},
		{args: []string{"list", "--fleet", "https://logs.example", "--fleet-user", "u"}, want: "FALCO_REPORTER_FLEET_PASSWORD", code: 1},
		{args: []string{"list", "--fleet", "http://127.0.0.1:1"}, want: "query the fleet at http://127.0.0.1:1", code: 1},
		{args: []string{"list", "--fleet", "http://127.0.0.1:1", "--fleet-user", "u"}, env: []string{"FALCO_REPORTER_FLEET_PASSWORD=hunter2"}, want: "connection refused", code: 1},
		{args: []string{"show", "--fleet", "http://127.0.0.1:1", "../etc/passwd"}, want: "not a report id", code: 1},
		{args: []string{"list"}, env: []string{"FALCO_REPORTER_FLEET=ftp://x"}, want: "want http:// or https://", code: 1},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, errOut, code := runBinEnv(t, tt.env, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.want) || strings.Contains(out+errOut, "hunter2") {
				t.Errorf("exit %d\n%s", code, errOut)
			}
		})
	}
}

// runBinEnv is runBin with variables added to the environment.
func runBinEnv(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runBinWith(t, "", env, args...)
}
