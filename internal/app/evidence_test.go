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
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/evidence"
	"github.com/falco-reporter/falco-reporter/internal/render"
	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/rules"
	"github.com/falco-reporter/falco-reporter/internal/spool"
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

// pidAlert is alert i, about process pid.
func pidAlert(i, pid int) event.Alert {
	a := alert("Read sensitive file untrusted", i)
	a.Fields["proc.pid"] = event.Str(strconv.Itoa(pid))
	return a
}

// asked is the record of an alert for which a snapshot was asked on
// receipt, or decided otherwise (evi).
func asked(r *record, evi byte) *record {
	r.evi = evi
	return r
}

func evRec(seq uint64, recv time.Time, target uint64, ev report.Evidence) *record {
	return &record{seq: seq, recv: recv.UnixNano(), input: "evidence", run: 1, ev: &evidenceRec{target: target, ev: ev}}
}

// TestEvidenceReplayIsExact: evidence records are applied like alerts, so
// a checkpoint and a replay give exactly the state of applying all of
// them: snapshots for open incidents, for one closed by a quiet spell,
// none for an unknown target, decisions on receipt recorded with the
// alerts, and more incidents awaiting than the bound.
func TestEvidenceReplayIsExact(t *testing.T) {
	t0 := time.Date(2026, 4, 2, 10, 0, 0, 0, time.UTC)
	var recs []*record
	seq := uint64(1)
	add := func(r *record) { recs = append(recs, r); seq++ }
	taken := func(pid int) report.Evidence {
		return report.Evidence{Status: report.EvidenceTaken, PID: pid, Process: &report.Process{PID: pid, Exe: "/usr/bin/cat", Cmdline: []string{"cat", "/etc/shadow"}}}
	}
	first := seq
	add(asked(rec(seq, t0, "http", 1, pidAlert(0, 100)), evAsked))
	add(asked(rec(seq, t0.Add(time.Millisecond), "http", 1, pidAlert(0, 100)), evSame)) // folds
	add(evRec(seq, t0.Add(2*time.Millisecond), first, taken(100)))
	add(evRec(seq, t0.Add(3*time.Millisecond), 9999, taken(1))) // no such incident
	closedOne := seq
	add(asked(rec(seq, t0.Add(4*time.Millisecond), "http", 1, pidAlert(1, 101)), evAsked))
	// A quiet spell closes it; its answer comes after.
	add(asked(rec(seq, t0.Add(2*time.Minute), "http", 1, pidAlert(2, 102)), evAsked))
	add(evRec(seq, t0.Add(2*time.Minute+time.Millisecond), closedOne, report.Evidence{Status: report.EvidenceExited, PID: 101, Reason: "gone"}))
	// 260 incidents asked for, unanswered.
	at := t0.Add(3 * time.Minute)
	for i := range 260 {
		at = at.Add(250 * time.Millisecond)
		add(asked(rec(seq, at, "http", 1, pidAlert(10+i, 1000+i)), evAsked))
	}
	// Then 8 more: 5 asked for, 3 over the rate bound; one not asked
	// (evidence off); one that opens an incident although an earlier
	// alert of its key was asked for.
	at = at.Add(2 * time.Second)
	for i := range 8 {
		evi := evAsked
		if i >= 5 {
			evi = evRate
		}
		add(asked(rec(seq, at.Add(time.Duration(i)*time.Microsecond), "http", 1, pidAlert(1000+i, 2000+i)), evi))
	}
	add(asked(rec(seq, at.Add(time.Millisecond), "http", 1, pidAlert(3000, 3000)), evOff))
	add(asked(rec(seq, at.Add(2*time.Millisecond), "http", 1, pidAlert(3001, 3001)), evSame))
	newWriter := func() *writer {
		w := newTestWriter(t)
		w.stormIncidents = 0
		return w
	}
	whole := newWriter()
	for _, r := range recs {
		c := *r
		whole.apply(&c)
	}
	if len(whole.awaiting) != maxAwaiting {
		t.Errorf("%d incidents awaiting, want the bound %d", len(whole.awaiting), maxAwaiting)
	}
	status := map[uint64]string{}
	reasons := map[string]int{}
	for _, inc := range whole.pending {
		if inc.evidence != nil {
			status[inc.seq] = inc.evidence.Status
			reasons[inc.evidence.Reason]++
		}
	}
	if status[first] != report.EvidenceTaken || status[closedOne] != report.EvidenceExited {
		t.Errorf("answered incidents: %q and %q, want taken and exited", status[first], status[closedOne])
	}
	// Awaiting at the end: 102's, the 260 and 5 of the 8: 266, 10 over
	// the bound, and the oldest 10 are given up.
	if status[seq-2] != report.EvidenceOff || status[seq-1] != report.EvidenceSkipped {
		t.Errorf("decided on receipt: %q and %q, want off and skipped", status[seq-2], status[seq-1])
	}
	for why, want := range map[string]int{"more snapshots were due this second than evidence.per_second allows": 3,
		"too many snapshots were awaited at once; this one was given up": 10} {
		if reasons[why] != want {
			t.Errorf("%d reports say %q, want %d", reasons[why], why, want)
		}
	}
	var cuts []int
	for cut := 1; cut < len(recs); cut += 1 + cut/20 {
		cuts = append(cuts, cut)
	}
	checkReplay(t, recs, cuts, whole, newWriter)
}

// TestEvidenceAwaitingBytesBounded: incidents that close while awaiting
// their snapshot are kept for it, within maxAwaitingBytes, whatever their
// alerts hold.
func TestEvidenceAwaitingBytesBounded(t *testing.T) {
	w := newTestWriter(t)
	w.stormIncidents = 0
	t0 := time.Date(2026, 4, 2, 10, 0, 0, 0, time.UTC)
	for i := range 200 {
		a := pidAlert(i, 100+i)
		a.Fields["proc.cmdline"] = event.Str(strings.Repeat("x", 200<<10))
		// Two minutes apart: each closes the one before.
		w.apply(asked(rec(uint64(i+1), t0.Add(time.Duration(i)*2*time.Minute), "http", 1, a), evAsked))
	}
	if w.awaitClosedBytes > maxAwaitingBytes || w.awaitClosedBytes <= 0 {
		t.Errorf("closed incidents awaiting hold %d bytes, bound %d", w.awaitClosedBytes, maxAwaitingBytes)
	}
	if n := len(w.awaiting); n >= 200 || n < 10 {
		t.Errorf("%d incidents awaiting: want some, fewer than the 200 opened", n)
	}
}

// TestEvidenceComesFromTheSpool: a crash before the checkpoint (reports
// written, none durable) is repaired by the replay, snapshot included:
// the snapshot is in the spool, and is not asked for again.
func TestEvidenceComesFromTheSpool(t *testing.T) {
	cfg := testConfig(t)
	var asked atomic.Int32
	take := func(ctx context.Context, r evidence.Request) report.Evidence {
		asked.Add(1)
		return report.Evidence{Status: report.EvidenceTaken, PID: r.PID, Process: &report.Process{PID: r.PID, Exe: "/usr/bin/cat", Cmdline: []string{"cat"}}}
	}
	src := &directSource{n: 3, alerts: func(i int) event.Alert { return pidAlert(i, 4242+i) }}
	runAll(t, cfg, Options{Sources: []stream.Source{src}, noCheckpoint: true, evidence: take})
	if asked.Load() != 3 {
		t.Fatalf("the collector was asked %d times, want 3", asked.Load())
	}
	before := diskReports(t, cfg.Reports.Dir)
	files, _ := filepath.Glob(filepath.Join(cfg.Reports.Dir, "*", "*"))
	for _, f := range files {
		if err := os.Truncate(f, 0); err != nil {
			t.Fatal(err)
		}
	}
	runAll(t, cfg, Options{Sources: []stream.Source{&directSource{}}, evidence: take})
	after := diskReports(t, cfg.Reports.Dir)
	if len(after) != 3 || len(before) != 3 {
		t.Fatalf("%d reports before, %d after, want 3", len(before), len(after))
	}
	for i, r := range after {
		if r.Evidence == nil || r.Evidence.Status != report.EvidenceTaken || r.Evidence.Process == nil || r.Evidence.PID != before[i].Evidence.PID {
			t.Errorf("report %s: evidence %+v after the replay, want %+v", r.ID, r.Evidence, before[i].Evidence)
		}
	}
	if asked.Load() != 3 {
		t.Errorf("the collector was asked again on replay: %d times", asked.Load())
	}
}

// TestEvidenceSettledAfterACrash: an incident opened by an earlier run
// whose snapshot never reached the spool (kill -9 while asking) says so
// once the restart has applied the spool; nobody asks about a process
// that alert is minutes old for.
func TestEvidenceSettledAfterACrash(t *testing.T) {
	cfg := testConfig(t)
	cfg.Evidence.Enabled = true
	sp, err := spool.Open(spool.Options{Dir: filepath.Join(cfg.StateDir, "spool"), MaxBytes: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := spool.AppendEntry(nil, &spool.Entry{Alert: pidAlert(1, 77), Received: time.Now(), Input: "http", Run: 1, Evidence: evAsked})
	if _, err := sp.Append(b); err != nil {
		t.Fatal(err)
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	var asked atomic.Int32
	take := func(ctx context.Context, r evidence.Request) report.Evidence {
		asked.Add(1)
		return report.Evidence{Status: report.EvidenceFailed}
	}
	runAll(t, cfg, Options{Sources: []stream.Source{&directSource{}}, evidence: take})
	reports := diskReports(t, cfg.Reports.Dir)
	if len(reports) != 1 {
		t.Fatalf("%d reports, want 1", len(reports))
	}
	if ev := reports[0].Evidence; ev == nil || ev.Status != report.EvidenceSkipped || ev.Reason != evidenceStopped {
		t.Errorf("evidence %+v, want skipped: %s", ev, evidenceStopped)
	}
	if asked.Load() != 0 {
		t.Errorf("the collector was asked %d times about an earlier run's alert", asked.Load())
	}
}

// TestStopWithSnapshotsUnderWay: a collector that never answers holds
// neither the stop nor the reports: Run returns within its shutdown
// bound, with every report written and saying why it has no snapshot.
func TestStopWithSnapshotsUnderWay(t *testing.T) {
	cfg := testConfig(t)
	cfg.Evidence.Enabled, cfg.Evidence.Timeout = true, 10*time.Second
	take := func(ctx context.Context, r evidence.Request) report.Evidence {
		<-ctx.Done() // never answers while the daemon runs
		return report.Evidence{Status: report.EvidenceFailed, Reason: "test"}
	}
	col := newCollector()
	src := &chanSource{ch: make(chan event.Alert)}
	stop := start(t, cfg, Options{Logger: zerolog.New(io.Discard), Sources: []stream.Source{src}, Written: col.written, evidence: take})
	for i := range 3 {
		src.ch <- pidAlert(i, 500+i)
	}
	waitFor(t, "three reports", func() bool { n, _ := col.occurrences(); return n == 3 })
	began := time.Now()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > ShutdownTimeout+time.Second {
		t.Errorf("Run took %v to return, bound %v", took, ShutdownTimeout)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	for _, r := range col.reports {
		if r.Evidence == nil || r.Evidence.Status != report.EvidenceSkipped || r.Evidence.Reason != evidenceStopped {
			t.Errorf("report %s: evidence %+v, want skipped: %s", r.ID, r.Evidence, evidenceStopped)
		}
	}
}

// TestEvidenceDecidedOnReceipt: one decision per incident key while the
// writer would fold its alerts (a window sliding with each alert), a skip
// included; at most per_second a second; no more per rule and host than a
// storm allows; none when the workers' queue is full; a refused append
// takes its decision back.
func TestEvidenceDecidedOnReceipt(t *testing.T) {
	q := &queue{metrics: NewMetrics()}
	var table atomic.Pointer[rules.Table]
	table.Store(defaultTable())
	q.asker = newEvidenceAsker(nil, q, &table, 2, time.Minute, 3, time.Minute)
	t0 := time.Date(2026, 4, 2, 10, 0, 0, 0, time.UTC)
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	steps := []struct {
		key, storm string
		at         time.Duration
		want       byte
	}{
		{"a", "s1", 0, evAsked},
		{"a", "s1", ms(1000), evSame}, // the same incident
		{"b", "s2", ms(1100), evAsked},
		{"c", "s3", ms(1200), evAsked},
		{"d", "s4", ms(1300), evRate},   // 2 this second already
		{"d", "s4", ms(1400), evSame},   // a skip is remembered too
		{"a", "s1", ms(50000), evSame},  // within a minute of its last alert
		{"a", "s1", ms(100000), evSame}, // and again: the window slides
		{"a", "s1", ms(170000), evAsked},
		{"e1", "s5", ms(200000), evAsked},
		{"e2", "s5", ms(201500), evAsked},
		{"e3", "s5", ms(203000), evAsked},
		{"e4", "s5", ms(204500), evStorm}, // the rule's 4th incident on the host in a minute
	}
	for i, s := range steps {
		if got := q.decideEvidence(s.key, s.storm, t0.Add(s.at)); got != s.want {
			t.Errorf("step %d (%s at %v): %d, want %d", i, s.key, s.at, got, s.want)
		}
	}
	at := t0.Add(300 * time.Second)
	if got := q.decideEvidence("f", "s6", at); got != evAsked {
		t.Fatalf("f: %d", got)
	}
	q.undecideEvidence(evAsked, "f", "s6")
	if got := q.decideEvidence("f", "s6", at.Add(ms(1))); got != evAsked {
		t.Errorf("after a refused append: %d, want asked again", got)
	}
	for range cap(q.asker.jobs) {
		q.asker.jobs <- evidenceJob{}
	}
	if got := q.decideEvidence("g", "s7", at.Add(ms(2000))); got != evBusy {
		t.Errorf("full queue: %d, want busy", got)
	}
	for i := range 2 * maxRecentKeys {
		q.decideEvidence(strconv.Itoa(i), "s8", at.Add(ms(3000)))
	}
	if n := len(q.asker.recent); n > maxRecentKeys+1 {
		t.Errorf("%d keys remembered, bound %d", n, maxRecentKeys)
	}
}

// TestEvidenceAskedBeforeTheBacklog: the snapshot of a live alert is
// asked for on receipt, while the writer is still busy with a flood
// received before it, not when the writer reaches the alert.
func TestEvidenceAskedBeforeTheBacklog(t *testing.T) {
	const n = 100_000
	cfg := testConfig(t)
	cfg.Evidence.Enabled = true
	spoolFlood(t, cfg.StateDir, n)
	metrics := make(chan *Metrics, 1)
	var backlogAtAsk atomic.Int64
	backlogAtAsk.Store(-1)
	var m *Metrics
	ready := make(chan struct{})
	take := func(ctx context.Context, r evidence.Request) report.Evidence {
		<-ready
		// The flood folds into one incident: applied = folded + 1.
		backlogAtAsk.Store(int64(n - 1 - testutil.ToFloat64(m.Folded)))
		return report.Evidence{Status: report.EvidenceExited, PID: r.PID}
	}
	src := &chanSource{ch: make(chan event.Alert)}
	col := newCollector()
	start(t, cfg, Options{Logger: zerolog.New(io.Discard), Sources: []stream.Source{src}, Written: col.written, metricsOut: metrics, evidence: take})
	m = <-metrics
	close(ready)
	src.ch <- pidAlert(n+1, 4242)
	waitFor(t, "the snapshot asked for", func() bool { return backlogAtAsk.Load() >= 0 })
	if got := backlogAtAsk.Load(); got == 0 {
		// Applying 100,000 alerts takes seconds; receiving one, less than
		// a millisecond.
		t.Fatal("the snapshot was asked for only once the writer had applied the whole flood before it")
	}
	t.Logf("asked with %d alerts of the flood not yet applied", backlogAtAsk.Load())
	waitFor(t, "its report with the snapshot", func() bool {
		col.mu.Lock()
		defer col.mu.Unlock()
		for _, r := range col.reports {
			if r.Evidence != nil && r.Evidence.Status == report.EvidenceExited {
				return true
			}
		}
		return false
	})
}
