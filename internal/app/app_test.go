package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/falco-reporter/falco-reporter/internal/config"
	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/falcotest"
	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/stream"
)

// testConfig returns a configuration writing under a temporary directory.
func testConfig(t *testing.T) *config.Config {
	t.Helper()
	c := config.Defaults()
	dir := t.TempDir()
	c.StateDir = filepath.Join(dir, "state")
	c.Reports.Dir = filepath.Join(dir, "reports")
	c.Journal.Reports = false
	c.Incidents.Window = time.Minute
	c.Incidents.UpdateInterval = 100 * time.Millisecond
	return &c
}

// collector records the reports the app writes.
type collector struct {
	mu      sync.Mutex
	reports map[string]report.Report // by id, latest write
	paths   map[string]string
	writes  int
}

func newCollector() *collector {
	return &collector{reports: map[string]report.Report{}, paths: map[string]string{}}
}

func (c *collector) written(r *report.Report, path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reports[r.ID] = *r
	c.paths[r.ID] = path
	c.writes++
}

func (c *collector) occurrences() (reports, total int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.reports {
		total += r.Occurrences
	}
	return len(c.reports), total
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second) // generous: -race on a loaded machine
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// start runs the app in the background; the returned stop cancels it and
// waits for it.
func start(t *testing.T, cfg *config.Config, opts Options) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- Run(ctx, cfg, opts) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-errc:
			case <-time.After(10 * time.Second):
				err = fmt.Errorf("Run did not return within 10 s of cancel")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func alert(rule string, i int) event.Alert {
	return event.Alert{
		Time: time.Date(2026, 4, 2, 10, 0, 0, i, time.UTC), Priority: event.PriorityWarning,
		Rule: rule, Source: "syscall", Hostname: "node-1", Output: "o",
		Tags: []string{"T1555", "mitre_credential_access"},
		Fields: event.Fields{
			"fd.name": event.Str(fmt.Sprintf("/etc/file-%d", i)), "proc.name": event.Str("cat"),
			"proc.exepath": event.Str("/usr/bin/cat"), "proc.cmdline": event.Str(fmt.Sprintf("cat /etc/file-%d", i)),
			"container.id": event.Str("host"),
		},
	}
}

func TestGRPCEndToEnd(t *testing.T) {
	falco := falcotest.New()
	addr, err := falco.ListenUnix(filepath.Join(t.TempDir(), "falco.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer falco.Stop()
	cfg := testConfig(t)
	g := config.DefaultGRPC()
	g.Address, g.PollInterval = addr, 10*time.Millisecond
	cfg.Falco.GRPC = g
	col := newCollector()
	stop := start(t, cfg, Options{Written: col.written})

	// Alerts queued before and after the subscription are all reported;
	// each has its own file name, so each is its own incident.
	for i := range 50 {
		falco.Enqueue(falcotest.AlertToResponse(alert("Read sensitive file untrusted", i)))
	}
	waitFor(t, "50 reports", func() bool { n, _ := col.occurrences(); return n == 50 })

	// Falco restarts: the reporter reconnects and gets what comes next.
	falco.Stop()
	time.Sleep(50 * time.Millisecond)
	if err := falco.Restart(); err != nil {
		t.Fatal(err)
	}
	for i := 50; i < 60; i++ {
		falco.Enqueue(falcotest.AlertToResponse(alert("Read sensitive file untrusted", i)))
	}
	waitFor(t, "60 reports after a Falco restart", func() bool { n, _ := col.occurrences(); return n == 60 })

	if err := stop(); err != nil {
		t.Fatal(err)
	}
	md, _ := filepath.Glob(filepath.Join(cfg.Reports.Dir, "2026-04-02", "*.md"))
	js, _ := filepath.Glob(filepath.Join(cfg.Reports.Dir, "2026-04-02", "*.json"))
	if len(md) != 60 || len(js) != 60 {
		t.Fatalf("%d .md and %d .json files, want 60 each", len(md), len(js))
	}
	var r report.Report
	data, _ := os.ReadFile(js[0])
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	if r.Handler != "dedicated" || r.Occurrences != 1 || r.Priority != "Warning" {
		t.Errorf("report = %+v", r)
	}
}

// directSource delivers alerts straight to the sink, as fast as it can.
type directSource struct {
	alerts func(i int) event.Alert
	n      int
}

func (d *directSource) Name() string { return "direct" }

func (d *directSource) Run(ctx context.Context, sink stream.Sink) error {
	for i := range d.n {
		if err := sink.Put(ctx, d.alerts(i)); err != nil {
			return nil
		}
	}
	return nil
}

func TestStormFoldsIntoAHandfulOfReports(t *testing.T) {
	const n = 100_000
	cfg := testConfig(t)
	cfg.Queue.Size = 1000
	col := newCollector()
	src := &directSource{n: n, alerts: func(i int) event.Alert {
		a := alert("Read sensitive file untrusted", i)
		a.Fields["fd.name"] = event.Str("/etc/shadow") // same incident key
		a.Fields["proc.cmdline"] = event.Str(fmt.Sprintf("cat /etc/shadow #%d", i%50))
		return a
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// The run ends by itself when the only source is done (as ingest does),
	// after closing every incident.
	if err := Run(ctx, cfg, Options{Logger: zerolog.New(io.Discard), Sources: []stream.Source{src}, Written: col.written}); err != nil {
		t.Fatal(err)
	}
	reports, total := col.occurrences()
	if total != n {
		t.Fatalf("sum of occurrences = %d, want %d (alerts lost or double-counted)", total, n)
	}
	if reports != 1 {
		t.Errorf("%d reports, want 1", reports)
	}
	for _, r := range col.reports {
		if got := len(r.Samples["proc.cmdline"]); got != maxSamples {
			t.Errorf("%d command line samples, want %d", got, maxSamples)
		}
		if !r.LastSeen.After(r.FirstSeen.Time) {
			t.Errorf("first %v last %v", r.FirstSeen, r.LastSeen)
		}
	}
	// The file on disk has the final count.
	data, err := os.ReadFile(strings.TrimSuffix(col.paths[firstID(col)], ".md") + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var onDisk report.Report
	if err := json.Unmarshal(data, &onDisk); err != nil {
		t.Fatal(err)
	}
	if onDisk.Occurrences != n {
		t.Errorf("report on disk says %d occurrences, want %d", onDisk.Occurrences, n)
	}
}

func firstID(c *collector) string {
	for id := range c.reports {
		return id
	}
	return ""
}

func TestSecondInstanceIsRefused(t *testing.T) {
	cfg := testConfig(t)
	cfg.Falco.GRPC = config.DefaultGRPC()
	cfg.Falco.GRPC.Address = "unix://" + filepath.Join(t.TempDir(), "absent.sock")
	ready := make(chan struct{})
	start(t, cfg, Options{Ready: ready})
	<-ready
	err := Run(context.Background(), cfg, Options{Logger: zerolog.New(io.Discard)})
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second instance: err = %v", err)
	}
}

func TestReload(t *testing.T) {
	cfg := testConfig(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "falco-reporter.yaml")
	pbDir := filepath.Join(dir, "playbooks")
	if err := os.Mkdir(pbDir, 0o750); err != nil {
		t.Fatal(err)
	}
	write := func(path, s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	base := fmt.Sprintf("state_dir: %s\nreports:\n  dir: %s\n  playbooks_dir: %s\njournal:\n  reports: false\n", cfg.StateDir, cfg.Reports.Dir, pbDir)
	write(cfgPath, base)
	loaded, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	reload := make(chan struct{})
	col := newCollector()
	src := &chanSource{ch: make(chan event.Alert)}
	start(t, loaded, Options{ConfigPath: cfgPath, Reload: reload, Sources: []stream.Source{src}, Written: col.written})

	sent := 0
	// title sends one more alert and returns the title of its report.
	title := func() string {
		i := sent
		sent++
		a := alert("My custom rule", i)
		a.Fields["proc.exepath"] = event.Str(fmt.Sprintf("/usr/bin/tool-%d", i)) // a new incident each time
		src.ch <- a
		var got string
		waitFor(t, "a report", func() bool {
			col.mu.Lock()
			defer col.mu.Unlock()
			for _, r := range col.reports {
				if r.FirstSeen.Nanosecond() == i {
					got = r.Title.String()
					return true
				}
			}
			return false
		})
		return got
	}
	if got := title(); got != "Falco rule My custom rule" {
		t.Fatalf("before reload: title %q", got)
	}
	// A good playbook appears: reload picks it up.
	write(filepath.Join(pbDir, "mine.yaml"), `playbooks:
  - rule: My custom rule
    fields: [fd.name]
    title: 'Custom title for {{.V "fd.name"}}'
    summary: s
    why: w
    facts: [{label: File, field: fd.name}]
    investigation: [{text: look}]
    false_positives: [{text: none}]
    remediation: [{text: fix}]
`)
	reload <- struct{}{}
	reloaded := false
	for range 200 {
		if strings.HasPrefix(title(), "Custom title") {
			reloaded = true
			break
		}
	}
	if !reloaded {
		t.Fatal("the new playbook was not loaded")
	}
	// A bad config is refused and the running one kept.
	write(cfgPath, base+"bogus: 1\n")
	reload <- struct{}{}
	reload <- struct{}{} // the first reload has finished once the second is taken
	if got := title(); !strings.HasPrefix(got, "Custom title") {
		t.Errorf("after a bad reload: title %q", got)
	}
}

// chanSource delivers what the test sends it.
type chanSource struct{ ch chan event.Alert }

func (c *chanSource) Name() string { return "chan" }

func (c *chanSource) Run(ctx context.Context, sink stream.Sink) error {
	for {
		select {
		case a := <-c.ch:
			if err := sink.Put(ctx, a); err != nil {
				return nil
			}
		case <-ctx.Done():
			return nil
		}
	}
}

func TestMetricsAndHealth(t *testing.T) {
	cfg := testConfig(t)
	cfg.Metrics.Listen = "127.0.0.1:0"
	src := &directSource{n: 5, alerts: func(i int) event.Alert { return alert("Read sensitive file untrusted", i) }}
	col := newCollector()
	ready := make(chan struct{})
	var addr string
	start(t, cfg, Options{Sources: []stream.Source{src, &chanSource{ch: make(chan event.Alert)}}, Written: col.written, Ready: ready, MetricsAddr: &addr})
	<-ready
	waitFor(t, "5 reports", func() bool { n, _ := col.occurrences(); return n == 5 })
	body := get(t, "http://"+addr+"/metrics")
	for _, want := range []string{
		`falco_reporter_alerts_received_total{source="syscall"} 5`,
		`falco_reporter_reports_written_total 5`,
		`falco_reporter_incidents_open 5`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if got := get(t, "http://"+addr+"/healthz"); got != "ok\n" {
		t.Errorf("healthz = %q", got)
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestImplausibleTimesAreFiledUnderReceiveTime: a zero time (a gRPC alert
// without timestamp) or one far in the future must not jam the writer.
func TestImplausibleTimesAreFiledUnderReceiveTime(t *testing.T) {
	cfg := testConfig(t)
	col := newCollector()
	times := []time.Time{{}, time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), time.Now()}
	src := &directSource{n: len(times), alerts: func(i int) event.Alert {
		a := alert("Read sensitive file untrusted", i)
		a.Time = times[i]
		return a
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := Run(ctx, cfg, Options{Logger: zerolog.New(io.Discard), Sources: []stream.Source{src}, Written: col.written}); err != nil {
		t.Fatal(err)
	}
	if n, _ := col.occurrences(); n != len(times) {
		t.Fatalf("%d reports for %d alerts", n, len(times))
	}
	today := time.Now().UTC().Format("2006-01-02")
	for _, p := range col.paths {
		if !strings.Contains(p, "/"+today+"/") {
			t.Errorf("%s is not filed under today", p)
		}
	}
}

// TestHugeAlert: an alert of tens of megabytes (a gRPC message may carry
// up to 64 MiB) is reported, not stuck in front of the spool.
func TestHugeAlert(t *testing.T) {
	cfg := testConfig(t)
	col := newCollector()
	src := &directSource{n: 1, alerts: func(i int) event.Alert {
		a := alert("Read sensitive file untrusted", i)
		a.Fields["proc.cmdline"] = event.Str(strings.Repeat("A", 20<<20))
		for j := range 40 {
			a.Fields[fmt.Sprintf("proc.aname[%d]", j)] = event.Str(strings.Repeat("B", 1<<20))
		}
		return a
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second) // a bound, not a target: slow under -race on a busy machine
	defer cancel()
	if err := Run(ctx, cfg, Options{Logger: zerolog.New(io.Discard), Sources: []stream.Source{src}, Written: col.written}); err != nil {
		t.Fatal(err)
	}
	if n, _ := col.occurrences(); n != 1 {
		t.Fatalf("%d reports, want 1", n)
	}
}

// TestIncidentUpdatedInPlace: the first alert is written within a second;
// a repeat folds into the same report file, rewritten after the update
// interval with the new count.
func TestIncidentUpdatedInPlace(t *testing.T) {
	cfg := testConfig(t)
	cfg.Incidents.UpdateInterval = 300 * time.Millisecond
	col := newCollector()
	src := &chanSource{ch: make(chan event.Alert)}
	ready := make(chan struct{})
	start(t, cfg, Options{Sources: []stream.Source{src}, Written: col.written, Ready: ready})
	<-ready
	a := alert("Read sensitive file untrusted", 1)
	sent := time.Now()
	src.ch <- a
	waitFor(t, "the first report", func() bool { n, _ := col.occurrences(); return n == 1 })
	if d := time.Since(sent); d > time.Second {
		t.Errorf("first report written after %v, want within 1 s", d)
	}
	id := firstID(col)
	path := col.paths[id]
	a.Time = a.Time.Add(time.Second)
	src.ch <- a
	src.ch <- a
	waitFor(t, "the update", func() bool { _, total := col.occurrences(); return total == 3 })
	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.reports) != 1 || col.paths[id] != path {
		t.Fatalf("the repeat made a new report: %v", col.paths)
	}
	data, err := os.ReadFile(strings.TrimSuffix(path, ".md") + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var r report.Report
	if err := json.Unmarshal(data, &r); err != nil || r.Occurrences != 3 || !r.LastSeen.After(r.FirstSeen.Time) {
		t.Errorf("report on disk: occurrences %d, first %v, last %v (%v)", r.Occurrences, r.FirstSeen, r.LastSeen, err)
	}
}
