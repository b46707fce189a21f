// Package querytest builds real reports directories for the tests and
// benchmarks of the commands that read reports back.
package querytest

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/demo"
	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/journal"
	"github.com/falco-reporter/falco-reporter/internal/render"
	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/rules"
	"github.com/falco-reporter/falco-reporter/internal/safe"
)

// Hosts are the host names Reports cycles through.
var Hosts = []string{"node-1", "node-2", "node-3"}

// Reports builds n reports from the demo's alerts, one a minute going
// back from end: rule, host and occurrences vary, ids are distinct.
func Reports(n int, end time.Time) ([]report.Report, error) {
	alerts, err := demo.Alerts()
	if err != nil {
		return nil, err
	}
	table := rules.Default()
	built := make([]report.Report, len(alerts))
	for i := range alerts {
		if built[i], err = table.Build(&alerts[i]); err != nil {
			return nil, err
		}
	}
	out := make([]report.Report, n)
	for i := range out {
		r := built[i%len(built)]
		t := end.Add(-time.Duration(i) * time.Minute).UTC()
		r.ID = fmt.Sprintf("%016x", uint64(i)*0x9e3779b97f4a7c15+1)
		r.Hostname = Hosts[i%len(Hosts)]
		r.FirstSeen.Time, r.LastSeen.Time = t, t.Add(time.Duration(i%7)*time.Second)
		r.Occurrences = 1 + i%7
		out[i] = r
	}
	return out, nil
}

// Alert returns the demo alert for rule, for tests that need one.
func Alert(rule string) (event.Alert, error) {
	alerts, err := demo.Alerts()
	if err != nil {
		return event.Alert{}, err
	}
	for _, a := range alerts {
		if a.Rule == rule {
			return a, nil
		}
	}
	return event.Alert{}, fmt.Errorf("no demo alert for %q", rule)
}

// Write writes each report as the daemon does, in day directories: its
// JSON and, with markdown, its Markdown. It returns the JSON paths.
func Write(dir string, rs []report.Report, markdown bool) ([]string, error) {
	paths := make([]string, len(rs))
	for i := range rs {
		r := &rs[i]
		day := filepath.Join(dir, r.FirstSeen.UTC().Format("2006-01-02"))
		if err := os.MkdirAll(day, 0o750); err != nil {
			return nil, err
		}
		base := filepath.Join(day, r.FirstSeen.UTC().Format("20060102T150405Z")+"-"+safe.Slug(r.Rule, 48)+"-"+r.ID[:min(8, len(r.ID))])
		js, err := render.JSON(r)
		if err != nil {
			return nil, err
		}
		if markdown {
			if err := atomicWrite(base+".md", render.Markdown(r)); err != nil {
				return nil, err
			}
		}
		if err := atomicWrite(base+".json", js); err != nil {
			return nil, err
		}
		paths[i] = base + ".json"
	}
	return paths, nil
}

// atomicWrite replaces path as the store does: a temporary file renamed
// over it, so that a reader never sees half a report.
func atomicWrite(path string, data []byte) error {
	tmp := filepath.Join(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err := os.WriteFile(tmp, data, 0o640); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Machine is the _MACHINE_ID JournalEntry gives a host.
func Machine(host string) string {
	return fmt.Sprintf("%032x", []byte(host))[:32]
}

// JournalEntry is the journal entry the daemon writes for r, as
// systemd-journal-upload sends it from a host running falco-reporter.service
// (trusted fields too), at time at. path is the report's path on the
// host.
func JournalEntry(r *report.Report, path string, at time.Time) (map[string]string, error) {
	js, cut, err := render.JournalJSON(r, journal.MaxReportJSON)
	if err != nil {
		return nil, err
	}
	prio, err := event.ParsePriority(r.Priority)
	if err != nil {
		prio = event.PriorityNotice
	}
	e := map[string]string{
		"__REALTIME_TIMESTAMP":   fmt.Sprint(at.UnixMicro()),
		"_MACHINE_ID":            Machine(r.Hostname),
		"_HOSTNAME":              r.Hostname,
		"_SYSTEMD_UNIT":          "falco-reporter.service",
		"_TRANSPORT":             "journal",
		"SYSLOG_IDENTIFIER":      journal.Identifier,
		"PRIORITY":               fmt.Sprint(int(prio)),
		"MESSAGE":                safe.Display(fmt.Sprintf("%s: %s on %s: %s", r.Priority, r.Rule, r.Hostname, r.Title), 0),
		journal.FieldRule:        safe.Display(r.Rule, 0),
		journal.FieldPriority:    safe.Display(r.Priority, 0),
		journal.FieldSource:      safe.Display(r.Source, 0),
		journal.FieldHostname:    safe.Display(r.Hostname, 0),
		journal.FieldReportID:    r.ID,
		journal.FieldReportPath:  path,
		journal.FieldOccurrences: fmt.Sprint(r.Occurrences),
		journal.FieldReportJSON:  string(js),
	}
	if cut != "" {
		e[journal.FieldReportTruncated] = "1"
	}
	return e, nil
}
