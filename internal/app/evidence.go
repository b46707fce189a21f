package app

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/evidence"
	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/rules"
	"github.com/falco-reporter/falco-reporter/internal/spool"
)

// Evidence at alert time. When an incident opens on an alert that names a
// process, the writer hands a request to a few workers beside it and never
// waits for them. Every outcome (a snapshot, or why there is none) comes
// back as a record in the spool, after the alerts received meanwhile, and
// the writer applies it in order like an alert: the report is rewritten
// with it. So the writer's state still depends only on the spool, and a
// replay after a crash puts the same snapshot into the same report.
//
// Until its record is applied, an incident is "awaiting": its report says
// the snapshot is pending. Answers that can no longer come (the run that
// asked has ended) are settled by a record saying so, once this run has
// applied the spool of earlier runs, or at shutdown.
const (
	evidenceWorkers = 2
	evidenceQueue   = 16 // requests handed over and not yet taken by a worker
	// maxAwaiting bounds the incidents kept for an answer, closed ones
	// included, and maxAwaitingBytes the memory of the closed ones (open
	// ones count in maxOpenBytes); beyond either the oldest is settled
	// without one, and counted (given_up). An incident awaits until its
	// answer is applied, behind the writer's backlog: at 5 snapshots a
	// second, 256 allow a backlog of about 50 s.
	maxAwaiting      = 256
	maxAwaitingBytes = 16 << 20
)

// takeFunc asks for one snapshot: the collector's client, or a stand-in.
type takeFunc func(ctx context.Context, r evidence.Request) report.Evidence

type evidenceJob struct {
	target uint64 // the spool position of the incident's first alert
	a      event.Alert
	table  *rules.Table
}

// evidenceRec is an evidence record read from the spool.
type evidenceRec struct {
	target uint64
	ev     report.Evidence
}

// evidenceAsker asks for snapshots and appends the answers to the spool.
type evidenceAsker struct {
	take takeFunc
	jobs chan evidenceJob
	q    *queue
	wg   sync.WaitGroup
}

func newEvidenceAsker(take takeFunc, q *queue) *evidenceAsker {
	return &evidenceAsker{take: take, q: q, jobs: make(chan evidenceJob, evidenceQueue)}
}

// start runs the workers until ctx ends. The jobs channel is never
// closed: a writer that outlived the shutdown deadline may still hand over.
func (e *evidenceAsker) start(ctx context.Context) {
	for range evidenceWorkers {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			for {
				select {
				case j := <-e.jobs:
					ev := e.take(ctx, evidenceRequest(&j.a, j.table))
					e.record(ctx, j.target, ev)
				case <-ctx.Done():
					return
				}
			}
		}()
	}
}

// outcome is the metric label of an evidence record's answer.
func outcome(ev *report.Evidence) string {
	switch ev.Status {
	case report.EvidenceTaken, report.EvidenceExited, report.EvidencePIDReused, report.EvidenceFailed:
		return ev.Status
	}
	if ev.Reason == evidenceStopped {
		return "skipped_stopping"
	}
	return "skipped_busy" // the collector was too busy
}

// record appends an answer to the spool, waiting while the spool is full,
// until ctx ends; then the answer is lost and the report says the daemon
// stopped before it arrived.
func (e *evidenceAsker) record(ctx context.Context, target uint64, ev report.Evidence) {
	wait := time.Millisecond
	for {
		err := e.q.offerEvidence(target, &ev)
		if err == nil {
			return
		}
		if !errors.Is(err, errFull) {
			e.q.metrics.SpoolErrors.Inc()
			e.q.warn(err, "cannot append an evidence snapshot to the spool; retrying")
		}
		select {
		case <-time.After(wait):
			wait = min(2*wait, 100*time.Millisecond)
		case <-ctx.Done():
			return
		}
	}
}

// evidencePID returns the alert's proc.pid when evidence applies to it: a
// syscall alert with a plausible PID.
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
	slices.Sort(names)
	for _, k := range names {
		p, _ := a.Fields.Get(k)
		if evidence.ValidPath(p) && !slices.Contains(r.Paths, p) && len(r.Paths) < evidence.MaxPaths {
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

// evidenceOpened sets the evidence state of an incident that opened on
// record r. It is part of the logical state: off, skipped by the rate
// bound (counted by receive times, so a replay decides the same), or
// pending (awaiting a record). When r was received by this run, the
// collector is asked, or a record says why not.
func (w *writer) evidenceOpened(inc *incident, r *record) {
	if _, ok := evidencePID(&inc.first); !ok {
		return
	}
	if !w.evidenceOn {
		inc.evidence = &report.Evidence{Status: report.EvidenceOff}
		return
	}
	if r.recv-w.evWindow >= int64(time.Second) {
		w.evWindow, w.evInWindow = r.recv, 0
	}
	if w.evInWindow >= w.evPerSecond {
		inc.evidence = &report.Evidence{Status: report.EvidenceSkipped, Reason: "more snapshots were due this second than evidence.per_second allows"}
		if r.run == w.runID {
			w.metrics.Evidence.WithLabelValues("skipped_rate").Inc()
		}
		return
	}
	w.evInWindow++
	inc.evidence = &report.Evidence{Status: report.EvidencePending}
	inc.run = r.run
	w.await(inc)
	if r.run != w.runID || w.asker == nil {
		return // asked (or not) by the run that received it
	}
	select {
	case w.asker.jobs <- evidenceJob{target: inc.seq, a: inc.first, table: inc.table}:
	default:
		w.evidenceSkip(inc, "the evidence collector was still busy with earlier snapshots")
	}
}

// evidenceSkip records that no snapshot is asked for inc, and why.
func (w *writer) evidenceSkip(inc *incident, why string) {
	ev := report.Evidence{Status: report.EvidenceSkipped, Reason: why}
	if err := w.queue.offerEvidence(inc.seq, &ev); err != nil {
		// The report says pending until the next start settles it.
		w.metrics.SpoolErrors.Inc()
		w.queue.warn(err, "cannot append an evidence record to the spool")
	}
}

// await adds inc to the incidents awaiting a record.
func (w *writer) await(inc *incident) {
	w.awaiting[inc.seq] = inc
	w.awaitOrder = append(w.awaitOrder, inc.seq)
	w.trimAwaiting()
}

// closedAwaiting is told that inc closed: if it awaits a record, its
// memory now counts in maxAwaitingBytes.
func (w *writer) closedAwaiting(inc *incident) {
	if _, ok := w.awaiting[inc.seq]; ok {
		w.awaitClosedBytes += inc.bytes
		w.trimAwaiting()
	}
}

// trimAwaiting settles the oldest awaiting incidents without an answer
// while there are more than maxAwaiting, or the closed ones hold more than
// maxAwaitingBytes.
func (w *writer) trimAwaiting() {
	for len(w.awaiting) > maxAwaiting || w.awaitClosedBytes > maxAwaitingBytes && len(w.awaiting) > 0 {
		seq := w.awaitOrder[0]
		w.awaitOrder = w.awaitOrder[1:]
		if old, ok := w.awaiting[seq]; ok {
			if old.run == w.runID {
				w.metrics.Evidence.WithLabelValues("given_up").Inc()
			}
			w.settle(old, report.Evidence{Status: report.EvidenceSkipped, Reason: "too many snapshots were awaited at once; this one was given up"})
		}
	}
}

// settle puts ev into inc's report and queues a rewrite.
func (w *writer) settle(inc *incident, ev report.Evidence) {
	delete(w.awaiting, inc.seq)
	if inc.closed {
		w.awaitClosedBytes -= inc.bytes
	} else {
		w.openBytes -= inc.bytes
	}
	inc.evidence = &ev
	inc.evBytes = evidenceSize(&ev)
	inc.bytes = inc.size()
	if !inc.closed {
		w.openBytes += inc.bytes
	}
	inc.dirty = true
	w.queueWrite(inc)
	if !inc.closed {
		w.evict()
	}
}

// applyEvidence applies an evidence record: the answer for an awaiting
// incident. An answer for one no longer awaiting (settled at a shutdown
// before it came) is ignored.
func (w *writer) applyEvidence(r *record) {
	inc, ok := w.awaiting[r.ev.target]
	if !ok {
		return
	}
	if r.run == w.runID {
		// Counted once, when the answer that counts is applied.
		w.metrics.Evidence.WithLabelValues(outcome(&r.ev.ev)).Inc()
	}
	w.settle(inc, r.ev.ev)
	if i := slices.Index(w.awaitOrder, r.ev.target); i >= 0 {
		w.awaitOrder = slices.Delete(w.awaitOrder, i, i+1)
	}
}

// settleStale appends a record for each awaiting incident that only the
// given runs could have answered; it reports whether it appended any.
// With all set it settles every one (shutdown).
func (w *writer) settleStale(all bool, why string) bool {
	appended := false
	for _, seq := range w.awaitOrder {
		inc, ok := w.awaiting[seq]
		if !ok || !all && inc.run == w.runID {
			continue
		}
		ev := report.Evidence{Status: report.EvidenceSkipped, Reason: why}
		if err := w.queue.offerEvidence(seq, &ev); err != nil {
			w.queue.warn(err, "cannot append an evidence record to the spool")
			return appended
		}
		appended = true
	}
	return appended
}

// evidenceSize estimates the bytes a snapshot holds.
func evidenceSize(ev *report.Evidence) int64 {
	if ev == nil {
		return 0
	}
	b, _ := json.Marshal(ev)
	return int64(len(b)) * 2
}

// evidenceRecord decodes an evidence record read from the spool.
func evidenceRecord(seq uint64, payload []byte) (*record, error) {
	e, err := spool.DecodeEvidence(payload)
	if err != nil {
		return nil, err
	}
	var ev report.Evidence
	if err := json.Unmarshal(e.Body, &ev); err != nil {
		return nil, err
	}
	return &record{seq: seq, sum: xxhash.Sum64(payload), recv: e.Received.UnixNano(), input: "evidence", run: e.Run,
		ev: &evidenceRec{target: e.Target, ev: ev}}, nil
}

// cloneEvidence decodes a snapshot's JSON: the writer gets its own copy,
// exactly what a replay reads back from the spool.
func cloneEvidence(body []byte) report.Evidence {
	var ev report.Evidence
	_ = json.Unmarshal(body, &ev)
	return ev
}

// evidenceMargin is left before the drain deadline for settling what is
// still awaited, and writing.
const evidenceMargin = 500 * time.Millisecond

// evidenceStopped is why a snapshot asked for never came.
const evidenceStopped = "the daemon stopped before the snapshot arrived"

// awaitingAnswers is for shutdown, once every alert is applied: while
// this run's snapshots are under way, the grace since stopStart has not
// passed and the drain deadline (Unix ns, 0: none) is not near, it waits a
// little for them and reports true.
func (w *writer) awaitingAnswers(stopStart time.Time, deadline int64) bool {
	now := w.now()
	if w.asker == nil || w.settledAll || now.Sub(stopStart) >= w.evidenceGrace ||
		deadline != 0 && now.Add(evidenceMargin).UnixNano() >= deadline {
		return false
	}
	live := false
	for _, inc := range w.awaiting {
		if inc.run == w.runID {
			live = true
			break
		}
	}
	if !live {
		return false
	}
	select {
	case <-w.queue.wake:
	case <-time.After(10 * time.Millisecond):
	}
	return true
}
