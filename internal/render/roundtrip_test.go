package render_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/render"
	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/rules"
)

// roundTrip returns r as `show` gets it back from a JSON report: from the
// reports directory, or from REPORT_JSON in the fleet's store.
func roundTrip(t *testing.T, r *report.Report) *report.Report {
	t.Helper()
	js, err := render.JSON(r)
	if err != nil {
		t.Fatal(err)
	}
	var back report.Report
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if back.Decoded() {
		t.Fatal("a report written by this version decodes without its value spans")
	}
	return &back
}

// sameDrawing fails unless r is drawn, in Markdown and in HTML, exactly as
// the report read back from its JSON.
func sameDrawing(t *testing.T, r *report.Report) {
	t.Helper()
	back := roundTrip(t, r)
	if a, b := render.Markdown(r), render.Markdown(back); !bytes.Equal(a, b) {
		t.Errorf("Markdown differs after a JSON round trip:\n%s", firstDiff(a, b))
	}
	a, err := render.HTML(r, "../index.html")
	if err != nil {
		t.Fatal(err)
	}
	b, err := render.HTML(back, "../index.html")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Errorf("HTML differs after a JSON round trip:\n%s", firstDiff(a, b))
	}
}

func firstDiff(a, b []byte) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	from := max(0, i-80)
	return "written:   " + string(a[from:min(len(a), i+80)]) + "\nread back: " + string(b[from:min(len(b), i+80)])
}

// TestJSONRoundTripDrawsTheSame: every sample alert of every rule with a
// playbook (internal/rules/testdata/alerts) gives a report that is drawn
// the same from its JSON as when it was written.
func TestJSONRoundTripDrawsTheSame(t *testing.T) {
	files, _ := filepath.Glob("../rules/testdata/alerts/*.jsonl")
	if len(files) == 0 {
		t.Fatal("no sample alerts")
	}
	table := rules.Default()
	n := 0
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if len(bytes.TrimSpace(sc.Bytes())) == 0 {
				continue
			}
			a, err := event.ParseJSON(sc.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			r, err := table.Build(&a)
			if err != nil {
				t.Fatal(err)
			}
			r.ID, r.Occurrences, r.Samples = "0123456789abcdef", 3, map[string][]string{"proc.pid": {"1", "2"}}
			t.Run(a.Rule, func(t *testing.T) { sameDrawing(t, &r) })
			n++
		}
		fh.Close()
	}
	if n < 90 {
		t.Errorf("only %d sample alerts", n)
	}
}

// TestJSONRoundTripHostile: hostile values, in every place a value can
// go, survive the round trip; so do texts made of spans that a JSON
// string alone would not tell apart.
func TestJSONRoundTripHostile(t *testing.T) {
	table := rules.Default()
	for _, h := range hostile {
		if len(h.value) > render.MaxJSONValue {
			continue // capped in the JSON report: see TestJSONRoundTripCappedValue
		}
		for _, rule := range []string{"Create Hardlink Over Sensitive Files", "Terminal shell in container", "A custom rule " + h.value} {
			t.Run(h.name+"/"+rule[:8], func(t *testing.T) {
				a := alertWith(rule, h.value)
				r, err := table.Build(&a)
				if err != nil {
					t.Fatal(err)
				}
				sameDrawing(t, &r)
			})
		}
	}
	tricky := []report.Text{
		nil,
		{{S: ""}},
		{{S: "", Value: true}},
		{{S: "ran "}, {S: " by "}, {S: "x", Value: true}, {S: "  "}, {S: "\n"}, {S: "y", Value: true}},
		{{S: "a", Value: true}, {S: "b", Value: true}, {S: "", Value: true}},
		{{S: "\xe2\x82", Value: true}, {S: "\xac tail"}}, // a rune split over two spans
		{{S: "é", Value: true}, {S: "\xff", Value: true}, {S: "` **x** `"}},
	}
	for i, tx := range tricky {
		r := report.Report{ID: "x", Rule: "r", Priority: "Warning", Title: tx, Summary: tx, Why: tx,
			Investigation: []report.Step{{Text: tx, Changes: tx}, {Text: tx}}, Remediation: []report.Step{{Text: tx, Command: "true", Changes: tx}}}
		t.Run(strings.Repeat("t", i+1), func(t *testing.T) { sameDrawing(t, &r) })
	}
}

// TestJSONRoundTripCappedValue: a value longer than the JSON report keeps
// (MaxJSONValue) is drawn from the JSON with the cut the JSON made; the
// rest of the report is the same.
func TestJSONRoundTripCappedValue(t *testing.T) {
	a := alertWith("Create Hardlink Over Sensitive Files", strings.Repeat("A", render.MaxJSONValue+10))
	r, err := rules.Default().Build(&a)
	if err != nil {
		t.Fatal(err)
	}
	back := roundTrip(t, &r)
	if back.Title.String() != r.Title.String() || len(back.Investigation) != len(r.Investigation) {
		t.Error("texts changed")
	}
	if !strings.Contains(back.Output, "truncated") {
		t.Error("the capped output does not say so")
	}
}

// TestOldJSONReportDecodes: a JSON report without value_spans (an older
// version's) reads back with its texts marked Decoded, drawn escaped.
func TestOldJSONReportDecodes(t *testing.T) {
	old := `{"id":"x","rule":"r","priority":"Warning","title":"cat read *x*","summary":"s","why":"w","investigation":[{"text":"t","command":"true"}],"first_seen":"2026-04-02T10:00:00Z","last_seen":"2026-04-02T10:00:00Z"}`
	var r report.Report
	if err := json.Unmarshal([]byte(old), &r); err != nil {
		t.Fatal(err)
	}
	if !r.Decoded() || len(r.Title) != 1 || !r.Title[0].Decoded {
		t.Fatalf("title = %#v", r.Title)
	}
	if md := string(render.Markdown(&r)); !strings.Contains(md, `**cat read \*x\***`) {
		t.Errorf("decoded title not escaped:\n%s", md)
	}
}
