package stream

import (
	"bufio"
	"bytes"
	"os"
	"testing"

	"github.com/falcosecurity/client-go/pkg/api/outputs"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/falcotest"
	"github.com/falco-reporter/falco-reporter/internal/render"
	"github.com/falco-reporter/falco-reporter/internal/rules"
)

// TestSameReportWhateverTheInput checks that an alert received as JSON
// (HTTP, file, ingest) and the same alert received over gRPC give
// byte-identical reports, for every real published alert in the rules
// package's test data.
func TestSameReportWhateverTheInput(t *testing.T) {
	f, err := os.Open("../rules/testdata/real/samples.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	table := rules.Default()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		fromJSON, err := event.ParseJSON(sc.Bytes())
		if err != nil {
			t.Fatalf("line %d: %v", n, err)
		}
		var resp outputs.Response
		if err := decodeResponse(falcotest.EncodeResponse(falcotest.AlertToResponse(fromJSON)), &resp); err != nil {
			t.Fatalf("line %d: %v", n, err)
		}
		fromGRPC := responseAlert(&resp)
		build := func(a event.Alert) []byte {
			r, err := table.Build(&a)
			if err != nil {
				t.Fatal(err)
			}
			r.ID = "same"
			b, err := render.JSON(&r)
			if err != nil {
				t.Fatal(err)
			}
			return append(b, render.Markdown(&r)...)
		}
		if a, b := build(fromJSON), build(fromGRPC); !bytes.Equal(a, b) {
			t.Errorf("line %d (%s): the report differs between JSON and gRPC input", n, fromJSON.Rule)
		}
	}
}
