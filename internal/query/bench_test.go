package query

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/query/querytest"
	"github.com/falco-reporter/falco-reporter/internal/vltest"
)

// BenchmarkList lists a directory of 20,000 real reports (JSON and
// Markdown, as the daemon writes them), warm in the page cache: the
// issue's target is under a second.
//
//	go test -run '^$' -bench List -benchtime 5x ./internal/query
func BenchmarkList(b *testing.B) {
	const n = 20000
	dir, _ := testDir(b, n)
	warn := func(path string, err error) { b.Fatalf("%s: %v", path, err) }
	ctx := context.Background()
	if _, err := NewLocal(dir, warn).List(ctx, Filter{}); err != nil { // warm the page cache
		b.Fatal(err)
	}
	cached := NewLocal(dir, warn)
	filters := []struct {
		name string
		l    func() *Local
		f    Filter
		want int
	}{
		// What `falco-reporter list` does: a new process reads every report.
		{"all", func() *Local { return NewLocal(dir, warn) }, Filter{}, n},
		{"filtered", func() *Local { return NewLocal(dir, warn) }, Filter{Priority: prio(event.PriorityWarning), Grep: "/etc/shadow", Since: end.Add(-24 * time.Hour)}, -1},
		// What the daemon's index.html does: read again what changed (here nothing).
		{"unchanged-again", func() *Local { return cached }, Filter{}, n},
	}
	for _, tt := range filters {
		b.Run(tt.name, func(b *testing.B) {
			cpu0 := cpuTime()
			for b.Loop() {
				got, err := tt.l().List(ctx, tt.f)
				if err != nil {
					b.Fatal(err)
				}
				if tt.want >= 0 && len(got) != tt.want {
					b.Fatalf("%d reports, want %d", len(got), tt.want)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "reports/s")
			// The machine is shared: CPU time (user and system, all
			// threads) per listing says what it costs when other work
			// competes for the two cores.
			b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
		})
	}
}

// cpuTime is the CPU time this process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkFleetList ingests the journal entries of 20,000 reports (two
// per report: a first write and a final count) into a real VictoriaLogs,
// as systemd-journal-upload posts them, and lists them back through the
// LogsQL API. It reports the ingestion rate and the store's disk use.
//
//	go test -run '^$' -bench FleetList -benchtime 5x ./internal/query
func BenchmarkFleetList(b *testing.B) {
	const n = 20000
	vl := vltest.Start(b)
	rs, err := querytest.Reports(n, end)
	if err != nil {
		b.Fatal(err)
	}
	var batch []vltest.Entry
	var bytesIn int
	start := time.Now()
	for i := range rs {
		for _, occ := range []int{1, rs[i].Occurrences} {
			r := rs[i]
			r.Occurrences = occ
			e, err := querytest.JournalEntry(&r, "/r.md", r.LastSeen.Add(time.Duration(occ)*time.Second))
			if err != nil {
				b.Fatal(err)
			}
			batch = append(batch, e)
			bytesIn += len(e["REPORT_JSON"])
		}
		if len(batch) >= 2000 || i == len(rs)-1 {
			vl.Ingest(b, batch)
			batch = batch[:0]
		}
	}
	vl.Flush(b)
	ingest := time.Since(start)
	b.Logf("ingested %d entries (%d MiB of REPORT_JSON) in %v: %.0f entries/s, building them included; store on disk: %d MiB",
		2*n, bytesIn>>20, ingest.Round(time.Millisecond), float64(2*n)/ingest.Seconds(), vl.DiskUsage(b)>>20)
	f, err := NewFleet(FleetOptions{URL: vl.URL})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		f    Filter
		want int
	}{{"all", Filter{}, n}, {"filtered", Filter{Priority: prio(event.PriorityWarning), Rule: "Terminal*", Since: end.Add(-24 * time.Hour)}, -1}} {
		b.Run(tt.name, func(b *testing.B) {
			for b.Loop() {
				got, err := f.List(ctx, tt.f)
				if err != nil {
					b.Fatal(err)
				}
				if tt.want >= 0 && len(got) != tt.want {
					b.Fatalf("%d reports, want %d", len(got), tt.want)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "reports/s")
		})
	}
}
