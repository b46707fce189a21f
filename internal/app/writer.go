package app

import (
	"container/list"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/falco-reporter/falco-reporter/internal/journal"
	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/rules"
	"github.com/falco-reporter/falco-reporter/internal/spool"
	"github.com/falco-reporter/falco-reporter/internal/store"
)

// Limits of one turn of the writer.
const (
	maxTake   = 4096 // records applied per turn
	maxNew    = 256  // new reports per turn: a turn ends when this many are pending
	chunkSize = 128  // reports rendered and written at once
)

// writer turns alerts into reports and writes them. It runs in one
// goroutine; nothing in it is shared but the metrics.
//
// It applies the spool's records in order to its state: the open
// incidents, the storm trackers and the tails used to recognise lines the
// file input read twice. That state depends only on the records, never on
// the wall clock, so a replay from the last checkpoint rebuilds it exactly,
// and rewrites the same reports with the same counts: each alert is counted
// once across crashes. The wall clock decides only when to write.
type writer struct {
	store   *store.Store
	table   *atomic.Pointer[rules.Table]
	formats []string
	journal *journal.Reporter // nil: no journal entries
	// reportJSON puts the JSON report in each journal entry
	// (journal.report_json).
	reportJSON bool
	log        zerolog.Logger
	metrics    *Metrics
	window     time.Duration
	update     time.Duration
	now        func() time.Time
	onLoop     func() // called on every turn of the loop: the watchdog ping
	healthy    *atomic.Bool
	written    func(r *report.Report, path string) // may be nil

	stormIncidents int           // 0: no storm folding
	stormWindow    time.Duration //

	spool  *spool.Spool
	ckpt   *checkpointer
	queue  *queue
	reader *spool.Reader

	// The logical state: see the type's comment.
	next       uint64 // the spool position of the next record to apply
	clock      int64  // the latest receive time applied, Unix ns
	open       map[string]*incident
	age        *list.List // open incidents, least recently folded first
	openBytes  int64
	trackers   map[string]*tracker
	trackerAge *list.List
	tails      map[string]*inputTail
	awaiting   map[uint64]*incident // incidents awaiting an evidence record, by first spool position
	awaitOrder []uint64             // their positions, oldest first (may hold settled ones)
	// awaitClosedBytes is the memory of the closed incidents awaiting.
	awaitClosedBytes int64

	asker *evidenceAsker // nil: evidence is off

	// Write bookkeeping.
	pending  []*incident // to write, in order
	lastErr  time.Time   // of the last logged write error
	fromDisk bool        // records are read from the spool, not the queue
	replayed int         // records of earlier runs applied since start
	caughtUp bool        // the records of earlier runs are all applied
	// settledStale: the snapshots that earlier runs asked for and never
	// recorded are settled; settledAll: at shutdown, all awaited ones.
	settledStale, settledAll bool
	evidenceGrace            time.Duration // how long a stop waits for snapshots under way
	runID                    int64         // this run
}

// apply applies one record to the state.
func (w *writer) apply(r *record) {
	w.next = r.seq + 1
	if r.recv < w.clock {
		r.recv = w.clock // receive times only move forward
	}
	w.clock = r.recv
	if r.run != w.runID {
		w.replayed++
	}
	if r.ev != nil {
		w.applyEvidence(r)
		return
	}
	if w.redelivered(r) {
		w.metrics.Drop("duplicate")
		return
	}
	w.expire()
	t := w.table.Load()
	key := boundKey(t.IncidentKey(&r.a))
	if inc, ok := w.open[key]; ok {
		if r.recv-inc.lastRecv < int64(w.window) {
			w.openBytes -= inc.bytes
			inc.fold(r)
			inc.bytes = inc.size()
			w.openBytes += inc.bytes
			w.age.MoveToBack(inc.elem)
			w.metrics.Folded.Inc()
			w.evict()
			return
		}
		w.close(inc)
	}
	if w.stormIncidents > 0 && w.stormFold(r, t) {
		w.metrics.Folded.Inc()
		return
	}
	w.openIncident(r, key, t)
}

// openIncident opens a new incident with r as its first alert.
func (w *writer) openIncident(r *record, key string, t *rules.Table) {
	a := keep(r.a)
	recv := time.Unix(0, r.recv)
	filed := fileTime(a.Time, recv)
	id := reportID(r.seq, r.sum)
	inc := &incident{
		key: key, id: id, seq: r.seq, last: r.seq, day: filed, name: reportName(filed, a.Priority, "", a.Rule, id),
		first: a, occ: 1, firstSeen: a.Time, lastSeen: a.Time, lastRecv: r.recv, table: t,
		dirty: true, openedAt: recv,
	}
	inc.bytes = inc.size()
	w.open[key] = inc
	inc.elem = w.age.PushBack(inc)
	w.openBytes += inc.bytes
	w.metrics.IncidentsOpen.Set(float64(len(w.open)))
	w.evidenceOpened(inc, r)
	w.queueWrite(inc)
	if w.stormIncidents > 0 {
		w.trackOpening(r, inc, t)
	}
	w.evict()
}

// expire closes the incidents and storms whose window has passed, by the
// records' receive times.
func (w *writer) expire() {
	for e := w.age.Front(); e != nil; e = w.age.Front() {
		inc := e.Value.(*incident)
		if w.clock-inc.lastRecv < int64(w.window) {
			break
		}
		w.close(inc)
	}
	for e := w.trackerAge.Front(); e != nil; e = w.trackerAge.Front() {
		tr := e.Value.(*tracker)
		if w.clock-tr.last < int64(w.stormWindow) {
			break
		}
		w.dropTracker(tr)
	}
}

// evict closes the least recently folded incidents while too many are
// open or they hold too much memory.
func (w *writer) evict() {
	for len(w.open) > maxOpen || w.openBytes > maxOpenBytes && len(w.open) > 1 {
		w.close(w.age.Front().Value.(*incident))
	}
}

// close ends an open incident: it folds no more, and is written one last
// time if it has unwritten alerts.
func (w *writer) close(inc *incident) {
	delete(w.open, inc.key)
	w.age.Remove(inc.elem)
	w.openBytes -= inc.bytes
	inc.closed = true
	w.closedAwaiting(inc)
	w.metrics.IncidentsOpen.Set(float64(len(w.open)))
	if inc.dirty {
		w.queueWrite(inc)
	}
}

func (w *writer) queueWrite(inc *incident) {
	if !inc.pending {
		inc.pending = true
		w.pending = append(w.pending, inc)
	}
}

// tick queues the updates of folding incidents that are due.
func (w *writer) tick() {
	now := w.now()
	for e := w.age.Front(); e != nil; e = e.Next() {
		if inc := e.Value.(*incident); inc.dirty && now.Sub(inc.lastWrite) >= w.update {
			w.queueWrite(inc)
		}
	}
	for _, tr := range w.trackers {
		if s := tr.storm; s != nil && s.dirty && now.Sub(s.lastWrite) >= w.update {
			w.queueWrite(s)
		}
	}
}

// queueDirty queues every incident with unwritten alerts, for shutdown.
func (w *writer) queueDirty() {
	for e := w.age.Front(); e != nil; e = e.Next() {
		if inc := e.Value.(*incident); inc.dirty {
			w.queueWrite(inc)
		}
	}
	for _, tr := range w.trackers {
		if tr.storm != nil && tr.storm.dirty {
			w.queueWrite(tr.storm)
		}
	}
}
