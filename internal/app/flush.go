package app

import (
	"errors"
	"fmt"
	"runtime"
	"strconv"

	"golang.org/x/sync/errgroup"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/journal"
	"github.com/falco-reporter/falco-reporter/internal/render"
	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/safe"
	"github.com/falco-reporter/falco-reporter/internal/store"
)

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
			if w.journal != nil { // else the entry goes nowhere
				out[i].entry = w.journalEntry(&r)
			}
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
			if out[i].entry.Fields != nil {
				out[i].entry.Fields[journal.FieldReportPath] = out[i].path
			}
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
func (w *writer) journalEntry(r *report.Report) journal.Entry {
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
	e := journal.Entry{Message: msg, Priority: int(prio), Fields: fields}
	if w.reportJSON {
		// Every write of a report sends an entry, with its count so far:
		// the last one of an incident holds its final count.
		var cut string
		e.ReportJSON, cut, err = render.JournalJSON(r, journal.MaxReportJSON)
		e.ReportCut = cut != ""
		if err != nil {
			w.log.Warn().Err(err).Msg("journal entry for a report sent without REPORT_JSON")
			e.ReportCut = true
		}
	}
	return e
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
