package app

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/evidence"
	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/rules"
	"github.com/falco-reporter/falco-reporter/internal/spool"
)

// Evidence at alert time. The snapshot is asked for on receipt, before the
// alert is even in the spool's queue for the writer, so that a backlog (a
// flood an intruder sends first) does not delay it: the first alert of an
// incident key that names a process, at most evidence.per_second a second,
// is handed to a few workers, and the decision is recorded in the alert's
// spool entry (spool.Entry.Evidence). The answer comes back as a record in
// the spool, and the writer applies it in order like an alert: the report
// of the incident that alert opened is rewritten with it. So the writer's
// state depends only on the spool, and a replay after a crash puts the
// same snapshot into the same report.
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

// The evidence decision on receipt, kept in the alert's spool entry.
const (
	evNone  byte = iota // no process, not a syscall alert, or an entry of an older version
	evAsked             // a snapshot was asked for
	evOff               // evidence.enabled is false
	evRate              // more than evidence.per_second this second
	evBusy              // the workers had every request they can hold
	evSame              // decided about for this incident key moments before, for an earlier alert
	evStorm             // the rule has asked for incidents.storm snapshots on this host within its window
)

// maxRecentKeys bounds the incident keys remembered as asked for.
const maxRecentKeys = 4096

type askedKey struct {
	key string
	at  time.Time
}

// evidenceAsker decides on receipt, asks for snapshots and appends the
// answers to the spool. Its decision state is guarded by the queue's mutex.
type evidenceAsker struct {
	take      takeFunc
	jobs      chan evidenceJob
	q         *queue
	table     *atomic.Pointer[rules.Table]
	perSecond int
	window    time.Duration // incidents.window: a key asked within it is not asked again
	second    time.Time     // start of the second the rate is counted in
	inSecond  int
	recent    map[string]time.Time // keys decided about, and when last
	order     []askedKey           // the same, oldest first
	// stormMax and stormWindow are incidents.storm; storms holds, per
	// rule and host, the times of the snapshots asked for in the window.
	stormMax    int
	stormWindow time.Duration
	storms      map[string][]time.Time
	wg          sync.WaitGroup
}

func newEvidenceAsker(take takeFunc, q *queue, table *atomic.Pointer[rules.Table], perSecond int, window time.Duration, stormMax int, stormWindow time.Duration) *evidenceAsker {
	return &evidenceAsker{take: take, q: q, table: table, perSecond: perSecond, window: window,
		stormMax: stormMax, stormWindow: stormWindow, storms: map[string][]time.Time{},
		jobs: make(chan evidenceJob, evidenceQueue), recent: map[string]time.Time{}}
}

// evidenceKey returns the incident key of a, its rule and host, and
// whether a names a process a snapshot could be taken of. It runs before
// the queue's lock: the key costs what the writer's folding costs.
func (q *queue) evidenceKey(a *event.Alert) (key, storm string, ok bool) {
	if _, ok := evidencePID(a); !ok {
		return "", "", false
	}
	if q.asker == nil {
		return "", "", true
	}
	return boundKey(q.asker.table.Load().IncidentKey(a)), boundKey(a.Rule + "\x00" + a.Hostname), true
}

// decideEvidence decides, on receipt at now, about a snapshot for an
// alert that names a process, of incident key key and rule and host
// storm; q.mu is held. Every key decided about is remembered for as long
// as the writer would fold its alerts (a window that slides with each
// alert), so that an incident is decided about once, whatever the
// decision.
func (q *queue) decideEvidence(key, storm string, now time.Time) byte {
	e := q.asker
	if e == nil {
		return evOff
	}
	for len(e.order) > 0 && (now.Sub(e.order[0].at) >= e.window || len(e.order) > maxRecentKeys) {
		if old := e.order[0]; e.recent[old.key].Equal(old.at) {
			delete(e.recent, old.key)
		}
		e.order = e.order[1:]
	}
	if at, ok := e.recent[key]; ok && now.Sub(at) < e.window {
		e.remember(key, now)
		return evSame
	}
	e.remember(key, now)
	if e.stormMax > 0 {
		// As the writer folds a rule's further incidents on a host into a
		// storm report, which takes no snapshot.
		asks := e.storms[storm]
		for len(asks) > 0 && now.Sub(asks[0]) >= e.stormWindow {
			asks = asks[1:]
		}
		e.storms[storm] = asks
		if len(asks) >= e.stormMax {
			return evStorm
		}
	}
	if now.Sub(e.second) >= time.Second {
		e.second, e.inSecond = now, 0
	}
	if e.inSecond >= e.perSecond {
		return evRate
	}
	if len(e.jobs) >= cap(e.jobs) {
		return evBusy
	}
	e.inSecond++
	if e.stormMax > 0 {
		if len(e.storms) > maxTrackedStorms {
			clear(e.storms)
		}
		e.storms[storm] = append(e.storms[storm], now)
	}
	return evAsked
}

// maxTrackedStorms bounds the rule and host pairs counted.
const maxTrackedStorms = 1024

// remember notes that key was decided about at now.
func (e *evidenceAsker) remember(key string, now time.Time) {
	e.recent[key] = now
	e.order = append(e.order, askedKey{key, now})
}

// undecideEvidence forgets a decision whose alert the spool refused.
func (q *queue) undecideEvidence(decision byte, key, storm string) {
	if decision == evNone || decision == evOff {
		return
	}
	delete(q.asker.recent, key)
	if decision == evAsked {
		q.asker.inSecond--
		if asks := q.asker.storms[storm]; len(asks) > 0 {
			q.asker.storms[storm] = asks[:len(asks)-1]
		}
	}
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
// record r, from the decision on receipt recorded with it.
func (w *writer) evidenceOpened(inc *incident, r *record) {
	skipped := func(why string) *report.Evidence {
		return &report.Evidence{Status: report.EvidenceSkipped, Reason: why}
	}
	switch r.evi {
	case evAsked:
		inc.evidence = &report.Evidence{Status: report.EvidencePending}
		inc.run = r.run
		w.await(inc)
	case evOff:
		inc.evidence = &report.Evidence{Status: report.EvidenceOff}
	case evRate:
		inc.evidence = skipped("more snapshots were due this second than evidence.per_second allows")
		w.countSkip(r, "skipped_rate")
	case evBusy:
		inc.evidence = skipped("the evidence collector was still busy with earlier snapshots")
		w.countSkip(r, "skipped_busy")
	case evStorm:
		inc.evidence = skipped("the rule was storming on this host: as many snapshots as incidents.storm allows were taken in its window")
		w.countSkip(r, "skipped_storm")
	case evSame:
		inc.evidence = skipped("an earlier alert with the same incident key, counted in another report, was decided about moments before")
	}
}

// countSkip counts a snapshot not asked for, once: by the run that
// received the alert.
func (w *writer) countSkip(r *record, label string) {
	if r.run == w.runID {
		w.metrics.Evidence.WithLabelValues(label).Inc()
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
