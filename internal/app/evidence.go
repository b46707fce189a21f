package app

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/evidence"
	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/rules"
)

// Evidence workers: a snapshot is asked for when an incident opens, by a
// few goroutines beside the writer, never by the writer itself. The
// writer hands over without waiting (a full queue is a counted skip) and
// takes the answers back in its loop; the report is then rewritten.
const (
	evidenceWorkers = 2
	evidenceQueue   = 16
)

// takeFunc asks for one snapshot: the collector's client, or a stand-in.
type takeFunc func(ctx context.Context, r evidence.Request) report.Evidence

type evidenceJob struct {
	id    string
	a     event.Alert
	table *rules.Table
}

type evidenceAnswer struct {
	id string
	ev report.Evidence
}

// evidenceWorker asks for snapshots. Its rate state is the writer's
// alone.
type evidenceWorker struct {
	take      takeFunc
	jobs      chan evidenceJob
	answers   chan evidenceAnswer
	perSecond int
	window    time.Time // start of the current second
	inWindow  int
	wg        sync.WaitGroup
}

func newEvidenceWorker(take takeFunc, perSecond int) *evidenceWorker {
	return &evidenceWorker{
		take: take, perSecond: perSecond,
		jobs: make(chan evidenceJob, evidenceQueue),
		// Room for every job that can be under way: a worker never
		// waits on the writer.
		answers: make(chan evidenceAnswer, evidenceQueue+evidenceWorkers),
	}
}

// start runs the workers until ctx ends. The jobs channel is never
// closed: a writer that outlived the shutdown deadline may still hand over.
func (e *evidenceWorker) start(ctx context.Context) {
	for range evidenceWorkers {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			for {
				select {
				case j := <-e.jobs:
					ev := e.take(ctx, evidenceRequest(&j.a, j.table))
					select {
					case e.answers <- evidenceAnswer{j.id, ev}:
					case <-ctx.Done():
						return
					}
				case <-ctx.Done():
					return
				}
			}
		}()
	}
}

// evidencePID returns the alert's proc.pid when evidence applies to it.
func evidencePID(a *event.Alert) (int, bool) {
	if a.Source != event.SourceSyscall {
		return 0, false
	}
	s, ok := a.Fields.Get("proc.pid")
	if !ok {
		return 0, false
	}
	pid, err := strconv.Atoi(s)
	return pid, err == nil && pid >= 1 && pid <= evidence.MaxPID
}

// evidenceRequest is what the collector is asked about a: the process,
// the paths the alert names (fd.name, fs.path.*, evt.arg.*path*), and the
// sysctls the rule's playbook checks.
func evidenceRequest(a *event.Alert, t *rules.Table) evidence.Request {
	pid, _ := evidencePID(a)
	r := evidence.Request{PID: pid, AlertNS: a.Time.UnixNano(), Host: a.IsHost()}
	if a.Time.Year() < 2000 || a.Time.After(time.Now().Add(time.Minute)) {
		r.AlertNS = time.Now().UnixNano()
	}
	if ts, ok := a.Fields.Get("proc.pid.ts"); ok {
		if v, err := strconv.ParseInt(ts, 10, 64); err == nil && v > 0 && v <= r.AlertNS {
			r.StartNS = v
		}
	}
	var names []string
	for k := range a.Fields {
		if k == "fd.name" || strings.HasPrefix(k, "fs.path.") || strings.HasPrefix(k, "evt.arg.") && strings.Contains(k, "path") {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		p, _ := a.Fields.Get(k)
		if evidence.ValidPath(p) && !contains(r.Paths, p) && len(r.Paths) < evidence.MaxPaths {
			r.Paths = append(r.Paths, p)
		}
	}
	if t != nil {
		if rep, err := t.Build(a); err == nil {
			r.Sysctls = evidence.SysctlsIn(&rep)
		}
	}
	return r
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// askEvidence is called by the writer when inc opens. It never waits.
func (w *writer) askEvidence(inc *incident) {
	if _, ok := evidencePID(&inc.first); !ok {
		return
	}
	e := w.evidence
	if e == nil {
		inc.evidence = &report.Evidence{Status: report.EvidenceOff}
		return
	}
	skip := func(reason, why string) {
		w.metrics.Evidence.WithLabelValues(reason).Inc()
		inc.evidence = &report.Evidence{Status: report.EvidenceSkipped, Reason: why}
	}
	now := w.now()
	if now.Sub(e.window) >= time.Second {
		e.window, e.inWindow = now, 0
	}
	if e.inWindow >= e.perSecond {
		skip("skipped_rate", "more snapshots were due this second than evidence.per_second allows")
		return
	}
	select {
	case e.jobs <- evidenceJob{id: inc.id, a: inc.first, table: inc.table}:
		e.inWindow++
		inc.evidence = &report.Evidence{Status: report.EvidencePending}
		w.awaiting[inc.id] = inc
	default:
		skip("skipped_busy", "the evidence collector was still busy with earlier snapshots")
	}
}

// gotEvidence puts an answer into its incident's report and rewrites it.
func (w *writer) gotEvidence(ans evidenceAnswer) {
	inc, ok := w.awaiting[ans.id]
	if !ok {
		return
	}
	delete(w.awaiting, ans.id)
	w.metrics.Evidence.WithLabelValues(ans.ev.Status).Inc()
	inc.evidence = &ans.ev
	w.queueWrite(inc)
}

// abandonEvidence is for shutdown: reports still waiting say so.
func (w *writer) abandonEvidence() {
	for id, inc := range w.awaiting {
		inc.evidence = &report.Evidence{Status: report.EvidenceSkipped, Reason: "the daemon stopped before the snapshot arrived"}
		w.metrics.Evidence.WithLabelValues("skipped_stopping").Inc()
		w.queueWrite(inc)
		delete(w.awaiting, id)
	}
}
