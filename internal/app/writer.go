package app

import (
	"container/list"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/evidence"
	"github.com/falco-reporter/falco-reporter/internal/journal"
	"github.com/falco-reporter/falco-reporter/internal/render"
	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/rules"
	"github.com/falco-reporter/falco-reporter/internal/safe"
	"github.com/falco-reporter/falco-reporter/internal/spool"
	"github.com/falco-reporter/falco-reporter/internal/store"
)

// Limits of the writer's memory.
const (
	maxBatch       = 256  // alerts taken from the queue in one go
	maxOpen        = 4096 // incidents folding at once; the oldest is closed first
	maxSamples     = 10   // distinct values kept per differing field
	maxSampleBytes = 256  // each kept value is cut to this

	// trimEvery is how often the spool learns what is durable. Alerts
	// written but not yet trimmed are reported again after a crash, so
	// this bounds the duplicates a crash can cause.
	trimEvery = 250 * time.Millisecond
)

// incident is one report that may still fold repeated alerts. Its report
// is built from the first alert when it is first written, by the parallel
// render step, not by the writer's loop.
type incident struct {
	first     event.Alert
	table     *rules.Table // the table in force when the incident opened
	id        string
	r         report.Report // valid once built
	built     bool
	occ       int // occurrences so far
	firstSeen time.Time
	lastSeen  time.Time
	samples   map[string][]string // values that differed from the first alert
	entry     store.Entry
	age       *list.Element // in writer.byAge
	lastAlert time.Time     // wall clock of the last alert folded in
	lastWrite time.Time
	dirty     bool             // folded alerts not yet written
	unwritten uint64           // spool seq of the first alert not yet in a written report; 0: none
	evidence  *report.Evidence // set by the writer's loop only; nil: evidence does not apply
}

// writer turns alerts into reports and writes them. It runs in one
// goroutine; nothing in it is shared.
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

	open    map[string]*incident
	byAge   *list.List  // keys of open incidents, least recently folded first
	pending []*incident // waiting to be written (after a failed write too)
	lastErr time.Time

	evidence *evidenceWorker      // nil: evidence.enabled is false
	awaiting map[string]*incident // incidents waiting for a snapshot, by id

	spool    *spool.Spool // nil: no spool
	taken    uint64       // seq of the last alert taken from the queue
	trimmed  uint64       // last watermark given to the spool
	lastTrim time.Time
}

// add builds or folds one alert.
func (w *writer) add(it item) {
	a := &it.a
	if it.seq > w.taken {
		w.taken = it.seq
	}
	t := w.table.Load()
	key := t.IncidentKey(a)
	now := w.now()
	if inc, ok := w.open[key]; ok && now.Sub(inc.lastAlert) < w.window {
		inc.fold(a)
		inc.lastAlert, inc.dirty = now, true
		w.byAge.MoveToBack(inc.age)
		if inc.unwritten == 0 {
			inc.unwritten = it.seq
		}
		w.metrics.Folded.Inc()
		return
	} else if ok {
		w.close(key, inc)
	}
	id := newID()
	filed := fileTime(a.Time, now)
	inc := &incident{
		first: *a, table: t, id: id, occ: 1, firstSeen: a.Time, lastSeen: a.Time,
		lastAlert: now, unwritten: it.seq,
		entry: store.Entry{Day: filed, Name: reportName(filed, a.Rule, id)},
	}
	if len(w.open) >= maxOpen {
		w.closeOldest()
	}
	w.open[key] = inc
	inc.age = w.byAge.PushBack(key)
	w.askEvidence(inc)
	w.metrics.IncidentsOpen.Set(float64(len(w.open)))
	w.pending = append(w.pending, inc)
}

// report builds the incident's report on first use and brings its
// folding state up to date. It runs on the render workers; an incident is
// only ever in one worker at a time.
func (inc *incident) report(log zerolog.Logger) *report.Report {
	if !inc.built {
		r, err := inc.table.Build(&inc.first)
		if err != nil {
			log.Error().Err(err).Str("falco_rule", safe.Line(inc.first.Rule)).Msg("handler failed; generic report written instead")
		}
		r.ID = inc.id
		inc.r, inc.built = r, true
	}
	inc.r.Evidence = inc.evidence
	evidence.Annotate(&inc.r)
	inc.r.Occurrences = inc.occ
	inc.r.FirstSeen.Time, inc.r.LastSeen.Time = inc.firstSeen, inc.lastSeen
	if len(inc.samples) > 0 {
		inc.r.Samples = make(map[string][]string, len(inc.samples))
		for k, v := range inc.samples {
			inc.r.Samples[k] = append([]string(nil), v...)
		}
	}
	return &inc.r
}

// tick queues the updates that are due and closes incidents whose window
// has passed.
func (w *writer) tick() {
	now := w.now()
	for key, inc := range w.open {
		switch {
		case now.Sub(inc.lastAlert) >= w.window:
			w.close(key, inc)
		case inc.dirty && now.Sub(inc.lastWrite) >= w.update:
			inc.dirty = false
			w.queueWrite(inc)
		}
	}
}

// closeAll ends every incident, for shutdown.
func (w *writer) closeAll() {
	for key, inc := range w.open {
		w.close(key, inc)
	}
}

func (w *writer) close(key string, inc *incident) {
	delete(w.open, key)
	w.byAge.Remove(inc.age)
	w.metrics.IncidentsOpen.Set(float64(len(w.open)))
	if inc.dirty {
		inc.dirty = false
		w.queueWrite(inc)
	}
}

func (w *writer) closeOldest() {
	if e := w.byAge.Front(); e != nil {
		key := e.Value.(string)
		w.close(key, w.open[key])
	}
}

func (w *writer) queueWrite(inc *incident) {
	for _, p := range w.pending {
		if p == inc {
			return
		}
	}
	w.pending = append(w.pending, inc)
}

// flush writes every pending report in one batch, with one group of
// fsyncs. On failure the batch stays pending and the error is returned.
func (w *writer) flush() error {
	if len(w.pending) == 0 {
		return nil
	}
	// Rendering is most of the work and each report is independent: use
	// every core.
	entries := make([]store.Entry, len(w.pending))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, inc := range w.pending {
		g.Go(func() error {
			files, err := w.render(inc.report(w.log))
			inc.entry.Files = files
			entries[i] = inc.entry
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	written, err := w.store.WriteBatch(entries)
	if errors.Is(err, store.ErrInvalid) {
		// A bug, not a disk problem: retrying cannot help and would stop
		// the pipeline. Count, log and move on.
		w.metrics.Dropped.WithLabelValues("invalid_report").Add(float64(len(entries)))
		w.log.Error().Err(err).Int("reports", len(entries)).Msg("the store refused reports; they are dropped")
		for _, inc := range w.pending {
			inc.unwritten, inc.dirty = 0, false
		}
		w.pending = w.pending[:0]
		return nil
	}
	if err != nil {
		w.metrics.WriteErrors.Inc()
		w.healthy.Store(false)
		return fmt.Errorf("write %d reports: %w", len(entries), err)
	}
	w.healthy.Store(true)
	now := w.now()
	for i, inc := range w.pending {
		inc.lastWrite, inc.unwritten, inc.dirty = now, 0, false
		w.metrics.Written.Inc()
		path := ""
		if i < len(written) && len(written[i].Paths) > 0 {
			path = written[i].Paths[0]
		}
		w.journalEntry(&inc.r, path)
		if w.written != nil {
			w.written(&inc.r, path)
		}
	}
	w.pending = w.pending[:0]
	return nil
}

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

// journalEntry sends the one-line journal entry of a written report.
func (w *writer) journalEntry(r *report.Report, path string) {
	if w.journal == nil {
		return
	}
	prio, err := event.ParsePriority(r.Priority)
	if err != nil {
		prio = event.PriorityNotice
	}
	msg := fmt.Sprintf("%s: %s on %s: %s", r.Priority, r.Rule, r.Hostname, r.Title)
	if r.Occurrences > 1 {
		msg += fmt.Sprintf(" (%d occurrences)", r.Occurrences)
	}
	err = w.journal.Send(journal.Entry{
		Message:  msg,
		Priority: int(prio),
		Fields: map[string]string{
			journal.FieldRule:        r.Rule,
			journal.FieldPriority:    r.Priority,
			journal.FieldSource:      r.Source,
			journal.FieldHostname:    r.Hostname,
			journal.FieldReportID:    r.ID,
			journal.FieldReportPath:  path,
			journal.FieldOccurrences: strconv.Itoa(r.Occurrences),
		},
	})
	if err != nil {
		w.metrics.Drop("journal_entry")
		w.log.Warn().Err(err).Msg("journal entry for a report could not be sent")
	}
}

// trim tells the spool which alerts are now durably in reports: every
// alert taken from the queue, except those of incidents with unwritten
// occurrences. Seqs are taken in order, so the lowest unwritten one bounds
// what may go.
func (w *writer) trim() {
	if w.spool == nil || w.now().Sub(w.lastTrim) < trimEvery {
		return
	}
	w.lastTrim = w.now()
	mark := w.taken
	low := func(inc *incident) {
		if inc.unwritten != 0 && inc.unwritten-1 < mark {
			mark = inc.unwritten - 1
		}
	}
	for _, inc := range w.open {
		low(inc)
	}
	for _, inc := range w.pending {
		low(inc)
	}
	w.metrics.SpoolBytes.Set(float64(w.spool.Bytes()))
	if mark <= w.trimmed {
		return
	}
	if err := w.spool.Trim(mark); err != nil {
		w.log.Warn().Err(err).Msg("spool trim failed; retrying")
		return
	}
	w.trimmed = mark
}

// fold adds one more occurrence, keeping a bounded sample of the values
// that differ from the first alert's.
func (inc *incident) fold(a *event.Alert) {
	inc.occ++
	if a.Time.Before(inc.firstSeen) {
		inc.firstSeen = a.Time
	}
	if a.Time.After(inc.lastSeen) {
		inc.lastSeen = a.Time
	}
	for k, v := range a.Fields {
		if k == "evt.time" || k == "evt.time.iso8601" || k == "evt.rawtime" {
			continue
		}
		if first, ok := inc.first.Fields[k]; ok && first == v {
			continue
		}
		if inc.samples == nil {
			inc.samples = map[string][]string{}
		}
		s := inc.samples[k]
		if len(s) >= maxSamples {
			continue
		}
		val := safe.Cap(v.Text, maxSampleBytes)
		if v.Kind == event.Null {
			val = "null"
		}
		if !slices.Contains(s, val) {
			inc.samples[k] = append(s, val)
		}
	}
}

// reportName is the file name of a report: its time, a slug of the rule
// and its id; never raw alert text.
func reportName(t time.Time, rule, id string) string {
	return t.Format("20060102T150405Z") + "-" + safe.Slug(rule, 48) + "-" + id[:8]
}

// fileTime is the time a report is filed under: the alert's, unless it is
// missing or implausible (a zero gRPC timestamp, a clock far off), in
// which case the time it was received. A report is never refused for its
// date.
func fileTime(alert, received time.Time) time.Time {
	if alert.Year() < 2000 || alert.After(received.Add(48*time.Hour)) {
		return received.UTC()
	}
	return alert.UTC()
}

// newID returns a random 16-hex-digit report id.
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
