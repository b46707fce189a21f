package app

import (
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/evidence"
	"github.com/falco-reporter/falco-reporter/internal/render"
	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/stream"
)

// collectorFor runs a real collector for this test's uid on a temporary
// socket and returns the socket's path.
func collectorFor(t *testing.T) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "evidence.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	lim := evidence.DefaultLimits
	lim.Budget = 20 * time.Second // generous: the machine is shared
	s := &evidence.Server{AllowUID: os.Getuid(), Limits: lim, MaxBusy: 2}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return sock
}

// sleeper starts a process for alerts to be about.
func sleeper(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("sleep", "300")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd.Process.Pid
}

func hardlinkAlert(pid int, target, link string) event.Alert {
	return event.Alert{
		Time: time.Now(), Priority: event.PriorityWarning, Rule: "Create Hardlink Over Sensitive Files",
		Source: "syscall", Hostname: "node-1", Output: "o",
		Fields: event.Fields{
			"proc.pid": event.Str(strconv.Itoa(pid)), "proc.name": event.Str("ln"), "proc.exepath": event.Str("/usr/bin/ln"),
			"proc.cmdline": event.Str("ln " + target + " " + link), "evt.arg.oldpath": event.Str(target),
			"evt.arg.newpath": event.Str(link), "container.id": event.Str("host"),
		},
	}
}

func TestEvidenceInReport(t *testing.T) {
	dir := t.TempDir()
	target, link := filepath.Join(dir, "shadow"), filepath.Join(dir, "s")
	if err := os.WriteFile(target, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(target, link); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	cfg.Evidence.Enabled, cfg.Evidence.Socket, cfg.Evidence.Timeout = true, collectorFor(t), 30*time.Second
	col := newCollector()
	src := &chanSource{ch: make(chan event.Alert, 1)}
	metrics := make(chan *Metrics, 1)
	stop := start(t, cfg, Options{Logger: zerolog.New(io.Discard), Sources: []stream.Source{src}, Written: col.written, metricsOut: metrics})
	m := <-metrics
	pid := sleeper(t)
	src.ch <- hardlinkAlert(pid, target, link)
	var r report.Report
	waitFor(t, "a report with evidence", func() bool {
		col.mu.Lock()
		defer col.mu.Unlock()
		for _, got := range col.reports {
			r = got
		}
		return r.Evidence != nil && r.Evidence.Status != report.EvidencePending
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	ev := r.Evidence
	t.Logf("snapshot %.1f ms after the alert, took %.1f ms", ev.DelayMS, ev.TookMS)
	if ev.Status != report.EvidenceTaken || ev.Process == nil || ev.Process.Exe == "" || len(ev.Process.Cmdline) != 2 {
		t.Fatalf("evidence %+v", ev)
	}
	if len(ev.Files) != 2 || ev.Files[0].Inode != ev.Files[1].Inode || ev.Files[0].Links != 2 {
		t.Errorf("files %+v: want both names, one inode, two links", ev.Files)
	}
	if len(ev.Sysctls) == 0 || ev.Sysctls[0].Name != "fs.protected_hardlinks" {
		t.Errorf("sysctls %+v: want the playbook's fs.protected_hardlinks", ev.Sysctls)
	}
	answered := 0
	for _, s := range r.Investigation {
		if len(s.Answered) > 0 {
			answered++
		}
	}
	if answered == 0 {
		t.Error("no investigation step says what the snapshot answers")
	}
	if md := string(render.Markdown(&r)); !strings.Contains(md, "## Evidence at alert time") || !strings.Contains(md, "*Answered at alert time:*") {
		t.Error("the Markdown report has no evidence section or no answered step")
	}
	if got := testutil.ToFloat64(m.Evidence.WithLabelValues("taken")); got != 1 {
		t.Errorf("evidence taken counted %v, want 1", got)
	}
}

func TestEvidenceOffSaysSo(t *testing.T) {
	cfg := testConfig(t)
	col := newCollector()
	src := &directSource{n: 1, alerts: func(int) event.Alert { return hardlinkAlert(1, "/etc/shadow", "/tmp/s") }}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := Run(ctx, cfg, Options{Logger: zerolog.New(io.Discard), Sources: []stream.Source{src}, Written: col.written}); err != nil {
		t.Fatal(err)
	}
	for _, r := range col.reports {
		if r.Evidence == nil || r.Evidence.Status != report.EvidenceOff {
			t.Errorf("evidence %+v, want off", r.Evidence)
		}
	}
}

// TestEvidenceBounded: a storm of distinct incidents asks for at most
// evidence.per_second snapshots a second; the rest are counted and the
// reports say why; a collector that is absent or slow never holds a
// report back.
func TestEvidenceBounded(t *testing.T) {
	cfg := testConfig(t)
	cfg.Evidence.Enabled, cfg.Evidence.PerSecond = true, 2
	block := make(chan struct{})
	take := func(ctx context.Context, r evidence.Request) report.Evidence {
		select { // a collector that never answers until the end
		case <-block:
		case <-ctx.Done():
		}
		return report.Evidence{Status: report.EvidenceFailed, Reason: "test"}
	}
	col := newCollector()
	const n = 50
	src := &directSource{n: n, alerts: func(i int) event.Alert {
		a := hardlinkAlert(1000+i, "/etc/shadow", "/tmp/s"+strconv.Itoa(i))
		a.Fields["proc.exepath"] = event.Str("/usr/bin/ln" + strconv.Itoa(i)) // a distinct incident each
		return a
	}}
	metrics := make(chan *Metrics, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := Run(ctx, cfg, Options{Logger: zerolog.New(io.Discard), Sources: []stream.Source{src}, Written: col.written, evidence: take, metricsOut: metrics})
	close(block)
	if err != nil {
		t.Fatal(err)
	}
	m := <-metrics
	if reports, _ := col.occurrences(); reports != n {
		t.Fatalf("%d reports, want %d: evidence held reports back", reports, n)
	}
	status := map[string]int{}
	for _, r := range col.reports {
		status[r.Evidence.Status]++
	}
	// How many were asked for depends on how many seconds the run took;
	// every report says it was skipped, and every skip is counted.
	counted := 0.0
	for _, why := range []string{"skipped_rate", "skipped_busy", "skipped_stopping"} {
		counted += testutil.ToFloat64(m.Evidence.WithLabelValues(why))
	}
	if status[report.EvidenceSkipped] != n || int(counted) != n {
		t.Errorf("statuses %v, %v skips counted: want all %d skipped and counted", status, counted, n)
	}
	if testutil.ToFloat64(m.Evidence.WithLabelValues("skipped_stopping")) < 1 {
		t.Error("no report says the daemon stopped before its snapshot arrived")
	}
}
