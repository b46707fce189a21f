package query

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/query/querytest"
	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/vltest"
)

// docQueries returns the LogsQL queries of docs/fleet.md by name: each is
// a ```logsql block after a <!-- logsql: NAME --> line.
func docQueries(t *testing.T) map[string]string {
	t.Helper()
	md, err := os.ReadFile("../../docs/fleet.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, m := range regexp.MustCompile("(?s)<!-- logsql: ([a-z-]+) -->\n```logsql\n(.*?)```").FindAllSubmatch(md, -1) {
		out[string(m[1])] = string(m[2])
	}
	return out
}

// runLogsQL runs q and returns its rows.
func runLogsQL(t *testing.T, base, q string) []map[string]string {
	t.Helper()
	resp, err := http.PostForm(base+"/select/logsql/query", url.Values{"query": {q}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s\n%s", resp.Status, b)
	}
	var rows []map[string]string
	dec := json.NewDecoder(resp.Body)
	for dec.More() {
		var row map[string]string
		if err := dec.Decode(&row); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row)
	}
	return rows
}

// TestFleetDocsQueries runs the ten queries of docs/fleet.md against a real
// VictoriaLogs holding a small fleet's entries, as journal-upload sends
// them, and checks what each returns.
func TestFleetDocsQueries(t *testing.T) {
	qs := docQueries(t)
	if len(qs) != 10 {
		t.Fatalf("%d queries in docs/fleet.md, want 10", len(qs))
	}
	vl := vltest.Start(t)
	now := time.Now().UTC()
	demo, err := querytest.Reports(13, now)
	if err != nil {
		t.Fatal(err)
	}
	byRule := map[string]report.Report{}
	for _, r := range demo {
		byRule[r.Rule] = r
	}
	var entries []vltest.Entry
	// add writes the entries of one report on host: one per write, the
	// count going up to occ, the last at `at`.
	add := func(rule, host, id string, at time.Time, occ int, edit func(*report.Report)) report.Report {
		r, ok := byRule[rule]
		if !ok {
			t.Fatalf("no demo report for %q", rule)
		}
		r.ID, r.Hostname, r.Occurrences = id, host, occ
		r.FirstSeen.Time, r.LastSeen.Time = at.Add(-time.Duration(occ)*time.Second), at
		if edit != nil {
			edit(&r)
		}
		for i := 1; i <= occ; i++ {
			w := r
			w.Occurrences = i
			e, err := querytest.JournalEntry(&w, "/var/lib/falco-reporter/reports/"+id+".md", at.Add(time.Duration(i-occ)*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			entries = append(entries, e)
		}
		return r
	}
	add("Terminal shell in container", "web-1", "65a0d934c1f2e0b7", now.Add(-20*time.Minute), 3, nil)
	add("Read sensitive file untrusted", "web-1", "0000000000000a01", now.Add(-2*time.Hour), 1, nil)
	add("Terminal shell in container", "web-2", "0000000000000b01", now.Add(-3*time.Hour), 1, nil)
	add("Drop and execute new binary in container", "web-2", "0000000000000b02", now.Add(-30*time.Minute), 2, nil)
	add("Detect release_agent File Container Escapes", "db-1", "0000000000000c01", now.Add(-50*time.Hour), 1, nil)
	// A storm: 25 incidents of one rule within two minutes, at the start
	// of a ten-minute bucket.
	stormAt := now.Add(-5 * time.Hour).Truncate(10 * time.Minute).Add(time.Minute)
	for i := range 25 {
		add("Contact K8S API Server From Container", "db-1", "00000000000d"+strconv.FormatInt(int64(1000+i), 16), stormAt.Add(time.Duration(i)*4*time.Second), 1, nil)
	}
	// A report too large for its entry.
	add("Write below binary dir", "web-1", "0000000000000a02", now.Add(-90*time.Minute), 1, func(r *report.Report) {
		for i := range 3000 {
			v := strings.Repeat("x", 20)
			r.Fields["custom.f"+strconv.Itoa(i)] = &v
		}
	})
	// The daemon's own warning, and a forged critical report from a user's
	// program.
	entries = append(entries, vltest.Entry{
		"__REALTIME_TIMESTAMP": vltest.Micros(now.Add(-10 * time.Minute)), "_MACHINE_ID": querytest.Machine("db-1"), "_HOSTNAME": "db-1",
		"_SYSTEMD_UNIT": "falco-reporter.service", "SYSLOG_IDENTIFIER": "falco-reporter", "PRIORITY": "4",
		"MESSAGE": "falco unreachable: dial unix /run/falco/falco.sock: connect: no such file or directory",
	})
	forged := vltest.Entry{}
	for k, v := range entries[0] {
		forged[k] = v
	}
	forged["_SYSTEMD_UNIT"], forged["PRIORITY"], forged["REPORT_ID"] = "user@1000.service", "0", "0000000000000bad"
	forged["__REALTIME_TIMESTAMP"] = vltest.Micros(now.Add(-time.Minute))
	entries = append(entries, forged)
	// journal-upload sent one entry twice.
	entries = append(entries, entries[2])
	vl.Ingest(t, entries)
	vl.Flush(t)

	col := func(rows []map[string]string, k string) []string {
		var out []string
		for _, r := range rows {
			out = append(out, r[k])
		}
		return out
	}
	checks := map[string]func(t *testing.T, rows []map[string]string){
		"worst-last-hour": func(t *testing.T, rows []map[string]string) {
			if len(rows) != 1 || rows[0]["_HOSTNAME"] != "web-2" || rows[0]["FALCO_PRIORITY"] != "Critical" || rows[0]["OCCURRENCES"] != "2" {
				t.Errorf("%v", rows)
			}
		},
		"host-history": func(t *testing.T, rows []map[string]string) {
			got := col(rows, "REPORT_ID")
			if !slices.Equal(got, []string{"65a0d934c1f2e0b7", "0000000000000a02", "0000000000000a01"}) || rows[0]["OCCURRENCES"] != "3" {
				t.Errorf("%v", rows)
			}
		},
		"rule-across-hosts": func(t *testing.T, rows []map[string]string) {
			want := map[string][2]string{"web-1": {"1", "3"}, "web-2": {"1", "1"}}
			if len(rows) != 2 {
				t.Fatalf("%v", rows)
			}
			for _, r := range rows {
				if w := want[r["_HOSTNAME"]]; r["incidents"] != w[0] || r["alerts"] != w[1] {
					t.Errorf("%v", r)
				}
			}
		},
		"storms": func(t *testing.T, rows []map[string]string) {
			if len(rows) != 1 || rows[0]["_HOSTNAME"] != "db-1" || rows[0]["FALCO_RULE"] != "Contact K8S API Server From Container" || rows[0]["incidents"] != "25" {
				t.Errorf("%v", rows)
			}
		},
		"top-rules": func(t *testing.T, rows []map[string]string) {
			if len(rows) < 4 || rows[0]["FALCO_RULE"] != "Contact K8S API Server From Container" || rows[0]["incidents"] != "25" ||
				rows[1]["FALCO_RULE"] != "Terminal shell in container" || rows[1]["incidents"] != "2" || rows[1]["alerts"] != "4" || rows[1]["hosts"] != "2" {
				t.Errorf("%v", rows)
			}
		},
		"hunt": func(t *testing.T, rows []map[string]string) {
			if !slices.Contains(col(rows, "REPORT_ID"), "0000000000000a01") || slices.Contains(col(rows, "REPORT_ID"), "0000000000000b01") {
				t.Errorf("%v", rows)
			}
		},
		"reporter-problems": func(t *testing.T, rows []map[string]string) {
			if len(rows) != 1 || rows[0]["_HOSTNAME"] != "db-1" || !strings.HasPrefix(rows[0]["_msg"], "falco unreachable") {
				t.Errorf("%v", rows)
			}
		},
		"incident-history": func(t *testing.T, rows []map[string]string) {
			if !slices.Equal(col(rows, "OCCURRENCES"), []string{"1", "2", "3"}) {
				t.Errorf("%v", rows)
			}
		},
		"cut-reports": func(t *testing.T, rows []map[string]string) {
			if len(rows) != 1 || rows[0]["REPORT_ID"] != "0000000000000a02" || rows[0]["REPORT_PATH"] == "" {
				t.Errorf("%v", rows)
			}
		},
		"last-heard": func(t *testing.T, rows []map[string]string) {
			if !slices.Equal(col(rows, "_HOSTNAME"), []string{"web-2", "web-1", "db-1"}) {
				t.Errorf("%v", rows)
			}
		},
	}
	for name, q := range qs {
		t.Run(name, func(t *testing.T) {
			check, ok := checks[name]
			if !ok {
				t.Fatal("no check for this query")
			}
			check(t, runLogsQL(t, vl.URL, q))
		})
	}
}
