package app

import (
	"container/list"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/journal"
	"github.com/falco-reporter/falco-reporter/internal/render"
	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/rules"
	"github.com/falco-reporter/falco-reporter/internal/safe"
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
	log     zerolog.Logger
	metrics *Metrics
	window  time.Duration
	update  time.Duration
	now     func() time.Time
	onLoop  func() // called on every turn of the loop: the watchdog ping
	healthy *atomic.Bool
	written func(r *report.Report, path string) // may be nil

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

	// Write bookkeeping.
	pending  []*incident // to write, in order
	lastErr  time.Time   // of the last logged write error
	fromDisk bool        // records are read from the spool, not the queue
	replayed int         // records of earlier runs applied since start
	caughtUp bool        // the records of earlier runs are all applied
	runID    int64       // this run
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

// trackOpening records that r opened inc, for storm detection.
func (w *writer) trackOpening(r *record, inc *incident, t *rules.Table) {
	tr := w.tracker(&r.a, t)
	tr.last = r.recv
	w.trackerAge.MoveToBack(tr.elem)
	tr.opens = append(tr.opens, r.recv)
	tr.refs = append(tr.refs, w.ref(inc))
	if len(tr.opens) > w.stormIncidents {
		tr.opens = tr.opens[1:]
		tr.refs = tr.refs[1:]
	}
}

// stormFold folds r into its rule's storm, starting one if the rule has
// opened too many incidents on this host within the storm window. It
// reports whether r was folded.
func (w *writer) stormFold(r *record, t *rules.Table) bool {
	tr := w.tracker(&r.a, t)
	tr.last = r.recv
	w.trackerAge.MoveToBack(tr.elem)
	if s := tr.storm; s != nil {
		if r.recv-s.lastRecv < int64(w.stormWindow) {
			s.fold(r)
			return true
		}
		w.endStorm(tr)
	}
	win := int64(w.stormWindow)
	for len(tr.opens) > 0 && r.recv-tr.opens[0] >= win {
		tr.opens, tr.refs = tr.opens[1:], tr.refs[1:]
	}
	if len(tr.opens) < w.stormIncidents {
		return false
	}
	// A storm: r is its first alert.
	a := keep(r.a)
	recv := time.Unix(0, r.recv)
	filed := fileTime(a.Time, recv)
	id := reportID(r.seq, r.sum)
	s := &incident{
		key: tr.key, id: id, seq: r.seq, last: r.seq, day: filed, name: reportName(filed, a.Priority, "storm-", a.Rule, id),
		first: a, occ: 1, firstSeen: a.Time, lastSeen: a.Time, lastRecv: r.recv, dirty: true, openedAt: recv,
		storm: &stormState{Priority: a.Priority, Values: map[string]*valueSample{}, Fields: tr.fields, Before: tr.refs},
	}
	if !a.Priority.Valid() {
		s.storm.Priority = event.PriorityDebug
	}
	s.storm.fold(&r.a)
	tr.storm, tr.opens, tr.refs = s, nil, nil
	w.metrics.Storms.Inc()
	w.log.Warn().Str("falco_rule", safe.Line(a.Rule)).Str("report_id", id).Int("incidents", w.stormIncidents).
		Dur("window", w.stormWindow).Msg("alert storm: further incidents of this rule on this host fold into one storm report")
	w.queueWrite(s)
	return true
}

// tracker returns the tracker of a's rule and host, making it if needed.
func (w *writer) tracker(a *event.Alert, t *rules.Table) *tracker {
	key := trackerKey(a)
	if tr, ok := w.trackers[key]; ok {
		return tr
	}
	for len(w.trackers) >= maxTrackers {
		w.dropTracker(w.trackerAge.Front().Value.(*tracker))
	}
	e, _ := t.Lookup(a.Source, a.Rule)
	tr := &tracker{key: key, fields: stormFields(e.KeyFields)}
	tr.elem = w.trackerAge.PushBack(tr)
	w.trackers[key] = tr
	return tr
}

// dropTracker forgets a tracker, ending its storm.
func (w *writer) dropTracker(tr *tracker) {
	if tr.storm != nil {
		w.endStorm(tr)
	}
	delete(w.trackers, tr.key)
	w.trackerAge.Remove(tr.elem)
}

// endStorm ends the tracker's storm: its report is written a last time,
// saying that the storm ended.
func (w *writer) endStorm(tr *tracker) {
	s := tr.storm
	tr.storm = nil
	s.storm.Ended, s.dirty, s.closed = true, true, true
	w.queueWrite(s)
}

// ref names an incident for a storm report: its path relative to the
// reports directory.
func (w *writer) ref(inc *incident) report.IncidentRef {
	ref := report.IncidentRef{ID: inc.id, FirstSeen: report.Time{Time: inc.firstSeen}}
	if p := w.store.Path(inc.entry(), w.ext()); p != "" {
		if rel, err := filepath.Rel(w.store.Dir(), p); err == nil {
			ref.Path = rel
		}
	}
	return ref
}

// ext is the extension of the first format written, for references.
func (w *writer) ext() string {
	if len(w.formats) > 0 && w.formats[0] == "json" {
		return "json"
	}
	return "md"
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

// done is one report written in a flush, for the journal and the
// callback after the batch is durable.
type done struct {
	inc     *incident
	occ     int
	entry   journal.Entry
	report  *report.Report // only when w.written is set
	path    string
	invalid bool
}

// flush writes every pending report, a chunk at a time, and makes them
// durable with one Sync. On failure everything stays pending and the error
// is returned.
func (w *writer) flush() error {
	if len(w.pending) == 0 {
		return nil
	}
	var all []done
	for start := 0; start < len(w.pending); start += chunkSize {
		part := w.pending[start:min(start+chunkSize, len(w.pending))]
		d, err := w.writeChunk(part)
		if err != nil {
			w.metrics.WriteErrors.Inc()
			w.healthy.Store(false)
			return fmt.Errorf("write %d reports: %w", len(part), err)
		}
		all = append(all, d...)
	}
	if err := w.store.Sync(); err != nil {
		w.metrics.WriteErrors.Inc()
		w.healthy.Store(false)
		return err
	}
	w.healthy.Store(true)
	now := w.now()
	for _, d := range all {
		inc := d.inc
		inc.pending = false
		if d.invalid {
			continue
		}
		if !inc.written && !inc.openedAt.IsZero() {
			w.metrics.Latency.Observe(now.Sub(inc.openedAt).Seconds())
		}
		inc.written, inc.lastWrite = true, now
		w.metrics.Written.Inc()
		w.metrics.Reported.Add(float64(d.occ - inc.reported))
		inc.reported = d.occ
		w.sendJournal(d.entry)
		if w.written != nil && d.report != nil {
			w.written(d.report, d.path)
		}
	}
	w.pending = w.pending[:0]
	return nil
}

// writeChunk renders and writes some pending reports, without syncing.
func (w *writer) writeChunk(part []*incident) ([]done, error) {
	entries := make([]store.Entry, len(part))
	out := make([]done, len(part))
	t := w.table.Load()
	// Rendering is most of the work and each report is independent: use
	// every core.
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, inc := range part {
		// What the write will hold; later folds make the incident dirty again.
		out[i] = done{inc: inc, occ: inc.occ}
		inc.dirty = false
		g.Go(func() error {
			r := inc.report(t, w)
			files, err := w.render(&r)
			entries[i] = inc.entry()
			entries[i].Files = files
			out[i].entry = journalEntry(&r)
			if w.written != nil {
				out[i].report = &r
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	written, err := w.store.WriteBatch(entries)
	if errors.Is(err, store.ErrInvalid) {
		// A bug, not a disk problem: retrying cannot help and would stop
		// the pipeline. Count, log and move on.
		w.metrics.Dropped.WithLabelValues("invalid_report").Add(float64(len(entries)))
		w.log.Error().Err(err).Int("reports", len(entries)).Msg("the store refused reports; they are dropped")
		for i := range out {
			out[i].invalid = true
		}
		return out, nil
	}
	if err != nil && !errors.Is(err, store.ErrRetention) {
		for _, d := range out {
			d.inc.dirty = true
		}
		return nil, err
	}
	if err != nil {
		w.log.Warn().Err(err).Msg("retention failed; retrying at the next write")
	}
	for i := range out {
		if i < len(written) && len(written[i].Paths) > 0 {
			out[i].path = written[i].Paths[0]
			out[i].entry.Fields[journal.FieldReportPath] = out[i].path
		}
	}
	return out, nil
}

// render returns the files of a report, one per configured format. Every
// format is rendered here and nowhere else.
func (w *writer) render(r *report.Report) ([]store.File, error) {
	var files []store.File
	for _, f := range w.formats {
		switch f {
		case "markdown":
			files = append(files, store.File{Ext: "md", Data: render.Markdown(r)})
		case "json":
			b, err := render.JSON(r)
			if err != nil {
				return nil, fmt.Errorf("render report %s: %w", r.ID, err)
			}
			files = append(files, store.File{Ext: "json", Data: b})
		case "html":
			// Reports sit in day directories below index.html. A page that
			// cannot be drawn (a bug) must not hold back the Markdown and
			// JSON, which carry the same report: it is left out and logged.
			b, err := render.HTML(r, "../index.html")
			if err != nil {
				w.log.Error().Err(err).Str("falco_rule", safe.Line(r.Rule)).Msg("HTML page not written")
				continue
			}
			files = append(files, store.File{Ext: "html", Data: b})
		}
	}
	return files, nil
}

// journalEntry is the one-line journal entry of a written report; the
// path is filled in once it is written.
func journalEntry(r *report.Report) journal.Entry {
	prio, err := event.ParsePriority(r.Priority)
	if err != nil {
		prio = event.PriorityNotice
	}
	msg := fmt.Sprintf("%s: %s on %s: %s", r.Priority, r.Rule, r.Hostname, r.Title)
	if r.Occurrences > 1 {
		msg += fmt.Sprintf(" (%d occurrences)", r.Occurrences)
	}
	fields := map[string]string{
		journal.FieldRule:        r.Rule,
		journal.FieldPriority:    r.Priority,
		journal.FieldSource:      r.Source,
		journal.FieldHostname:    r.Hostname,
		journal.FieldReportID:    r.ID,
		journal.FieldOccurrences: strconv.Itoa(r.Occurrences),
	}
	if r.Storm != nil {
		msg = fmt.Sprintf("%s: alert storm of %s on %s: %d alerts folded into one report", r.Priority, r.Rule, r.Hostname, r.Occurrences)
		if r.Storm.Ended {
			msg += " (ended)"
		}
		fields[journal.FieldStorm] = "1"
	}
	return journal.Entry{Message: msg, Priority: int(prio), Fields: fields}
}

func (w *writer) sendJournal(e journal.Entry) {
	if w.journal == nil {
		return
	}
	if err := w.journal.Send(e); err != nil {
		w.metrics.Drop("journal_entry")
		w.log.Warn().Err(err).Msg("journal entry for a report could not be sent")
	}
}
