package app

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/falcosecurity/client-go/pkg/api/outputs"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rs/zerolog"

	"github.com/falco-reporter/falco-reporter/internal/config"
	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/evidence"
	"github.com/falco-reporter/falco-reporter/internal/falcotest"
	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/stream"
)

// BenchmarkPipeline measures durable distinct reports per second through
// the whole pipeline: queue, spool, handler, both renderers, batched
// atomic writes. Set the directory's filesystem with TMPDIR. With
// evidence on, every alert names a process and a stand-in collector
// answers at once: evidence must not slow the writer.
//
//	go test -run '^$' -bench Pipeline -benchtime 5000x ./internal/app
func BenchmarkPipeline(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("evidence=%v", on), func(b *testing.B) {
			c := config.Defaults()
			dir := b.TempDir()
			c.StateDir, c.Reports.Dir = dir+"/state", dir+"/reports"
			c.Journal.Reports = false
			c.Reports.Retention = config.Retention{}
			c.Incidents.Storm.Incidents = 0 // distinct incidents of one rule: measure the writer
			opts := Options{Logger: zerolog.New(io.Discard)}
			alerts := func(i int) event.Alert { return alert("Read sensitive file untrusted", i) }
			if on {
				alerts = func(i int) event.Alert { return pidAlert(i, 1000+i%100000) }
				opts.evidence = func(_ context.Context, r evidence.Request) report.Evidence {
					return report.Evidence{Status: report.EvidenceExited, PID: r.PID, Reason: "stand-in"}
				}
			}
			opts.Sources = []stream.Source{&directSource{n: b.N, alerts: alerts}}
			ids := map[string]bool{}
			opts.Written = func(r *report.Report, _ string) { ids[r.ID] = true }
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			b.ResetTimer()
			start := time.Now()
			err := Run(ctx, &c, opts)
			elapsed := time.Since(start)
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			if len(ids) != b.N {
				b.Fatalf("%d reports for %d alerts", len(ids), b.N)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "reports/s")
		})
	}
}

// BenchmarkStormGRPC measures alerts per second of one rule, folding into
// one report, received from a Falco-like gRPC server on a unix socket.
//
//	go test -run '^$' -bench StormGRPC -benchtime 100000x ./internal/app
func BenchmarkStormGRPC(b *testing.B) {
	falco := falcotest.New()
	addr, err := falco.ListenUnix(filepath.Join(b.TempDir(), "falco.sock"))
	if err != nil {
		b.Fatal(err)
	}
	defer falco.Stop()
	c := config.Defaults()
	dir := b.TempDir()
	c.StateDir, c.Reports.Dir = dir+"/state", dir+"/reports"
	c.Journal.Reports = false
	c.Incidents.UpdateInterval = 250 * time.Millisecond
	g := config.DefaultGRPC()
	g.Address, g.PollInterval = addr, 10*time.Millisecond
	c.Falco.GRPC = g
	msgs := make([]*outputs.Response, b.N)
	for i := range msgs {
		a := alert("Read sensitive file untrusted", i)
		a.Fields["fd.name"] = event.Str("/etc/shadow")
		a.Fields["proc.cmdline"] = event.Str(fmt.Sprintf("cat /etc/shadow #%d", i%50))
		msgs[i] = falcotest.AlertToResponse(a)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	metrics := make(chan *Metrics, 1)
	done := make(chan error, 1)
	go func() { done <- Run(ctx, &c, Options{Logger: zerolog.New(io.Discard), metricsOut: metrics}) }()
	m := <-metrics
	for falco.Subscribers() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	b.ResetTimer()
	start := time.Now()
	falco.Enqueue(msgs...)
	for testutil.ToFloat64(m.Reported) < float64(b.N) {
		time.Sleep(2 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "alerts/s")
}
