package rules_test

import (
	"bufio"
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/render"
	"github.com/falco-reporter/falco-reporter/internal/rules"
	"github.com/falco-reporter/falco-reporter/internal/safe"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// TestGolden renders one report per sample alert (testdata/alerts/*.jsonl)
// and compares it with testdata/golden/<rule>.md and .json. Regenerate
// with -update and review the diff like code.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/alerts/*.jsonl")
	if len(files) == 0 {
		t.Fatal("no sample alerts")
	}
	table := rules.Default()
	seen := map[string]bool{}
	for _, f := range files {
		for n, line := range readLines(t, f) {
			a, err := event.ParseJSON(line)
			if err != nil {
				t.Fatalf("%s:%d: %v", f, n+1, err)
			}
			name := safe.Slug(a.Source+"-"+a.Rule, 80)
			if seen[name] {
				t.Fatalf("%s:%d: second sample for %q", f, n+1, a.Rule)
			}
			seen[name] = true
			t.Run(name, func(t *testing.T) {
				r, err := table.Build(&a)
				if err != nil {
					t.Fatal(err)
				}
				r.ID = "golden"
				js, err := render.JSON(&r)
				if err != nil {
					t.Fatal(err)
				}
				compare(t, filepath.Join("testdata/golden", name+".md"), render.Markdown(&r))
				compare(t, filepath.Join("testdata/golden", name+".json"), js)
			})
		}
	}
}

func compare(t *testing.T, path string, got []byte) {
	t.Helper()
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
		t.Errorf("%s differs from the rendered report; run with -update and review the diff", path)
	}
}

func readLines(t *testing.T, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			out = append(out, append([]byte(nil), sc.Bytes()...))
		}
	}
	return out
}
