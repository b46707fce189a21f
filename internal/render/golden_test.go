package render_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/query/querytest"
	"github.com/falco-reporter/falco-reporter/internal/report"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// golden compares got with testdata/golden/name; -update rewrites it.
// Review a rewritten file's diff like code.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; if the change is intended, run go test ./internal/render -update and review the diff.\ngot:\n%s", path, got)
	}
}

var goldenEnd = time.Date(2026, 4, 2, 12, 0, 0, 0, time.UTC)

// demoReports are the demo's 13 reports, one a minute up to goldenEnd.
func demoReports(t *testing.T) []report.Report {
	t.Helper()
	rs, err := querytest.Reports(13, goldenEnd)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// entries returns the list entries of rs as the index links them.
func entries(rs []report.Report) []report.Entry {
	es := make([]report.Entry, len(rs))
	for i, r := range rs {
		day := r.FirstSeen.UTC().Format("2006-01-02")
		es[i] = report.Entry{ID: r.ID, Rule: r.Rule, Source: r.Source, Priority: r.Priority, Hostname: r.Hostname,
			FirstSeen: r.FirstSeen, LastSeen: r.LastSeen, Occurrences: r.Occurrences, Title: r.Title.String(), Subject: "c0ffee1234ab web",
			Files: report.Files{JSON: day + "/" + r.ID + ".json", Markdown: day + "/" + r.ID + ".md", HTML: day + "/" + r.ID + ".html"}}
	}
	return es
}
