package app

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/stream"
)

// TestHTMLFormat runs the pipeline with the html format: each report gets
// its page beside its Markdown and JSON, and index.html lists them.
func TestHTMLFormat(t *testing.T) {
	cfg := testConfig(t)
	cfg.Reports.Formats = []string{"markdown", "json", "html"}
	cfg.Reports.Retention.MaxAge = 0 // the test alerts are from 2026-04-02
	col := newCollector()
	src := &directSource{n: 5, alerts: func(i int) event.Alert { return alert("Read sensitive file untrusted", i) }}
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	if err := Run(ctx, cfg, Options{Logger: zerolog.New(io.Discard), Sources: []stream.Source{src}, Written: col.written}); err != nil {
		t.Fatal(err)
	}
	pages, _ := filepath.Glob(filepath.Join(cfg.Reports.Dir, "2026-04-02", "*.html"))
	if len(pages) != 5 {
		t.Fatalf("%d HTML reports, want 5", len(pages))
	}
	page, err := os.ReadFile(pages[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), `href="../index.html"`) || !strings.Contains(string(page), "Read sensitive file untrusted") {
		t.Errorf("report page:\n%.600s", page)
	}
	index, err := os.ReadFile(filepath.Join(cfg.Reports.Dir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(index), `<a href="./2026-04-02/`); n != 5 {
		t.Errorf("index.html links %d reports, want 5", n)
	}
	st, err := os.Stat(filepath.Join(cfg.Reports.Dir, "index.html"))
	if err != nil || st.Mode().Perm() != 0o640 {
		t.Errorf("index.html mode %v, %v", st.Mode(), err)
	}
}
