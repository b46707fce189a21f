package app

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/falco-reporter/falco-reporter/internal/config"
	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/stream"
)

// BenchmarkPipeline measures durable distinct reports per second through
// the whole pipeline: queue, spool, handler, both renderers, batched
// atomic writes. Set the directory's filesystem with TMPDIR.
//
//	go test -run '^$' -bench Pipeline -benchtime 5000x ./internal/app
func BenchmarkPipeline(b *testing.B) {
	c := config.Defaults()
	dir := b.TempDir()
	c.StateDir, c.Reports.Dir = dir+"/state", dir+"/reports"
	c.Journal.Reports = false
	c.Reports.Retention = config.Retention{}
	src := &directSource{n: b.N, alerts: func(i int) event.Alert { return alert("Read sensitive file untrusted", i) }}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	written := 0
	b.ResetTimer()
	start := time.Now()
	err := Run(ctx, &c, Options{Logger: zerolog.New(io.Discard), Sources: []stream.Source{src}, Written: func(_ *report.Report, _ string) { written++ }})
	elapsed := time.Since(start)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if written != b.N {
		b.Fatalf("%d reports for %d alerts", written, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "reports/s")
}
