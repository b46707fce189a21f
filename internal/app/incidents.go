package app

import (
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/evidence"
	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/rules"
	"github.com/falco-reporter/falco-reporter/internal/safe"
	"github.com/falco-reporter/falco-reporter/internal/store"
)

// Bounds of what the writer holds in memory, whatever the alerts.
const (
	maxOpen        = 4096     // incidents folding at once; the least recently folded is closed first
	maxOpenBytes   = 32 << 20 // estimated bytes of all open incidents; the same
	maxKeptFields  = 256      // fields kept of an incident's first alert
	maxKeptValue   = 64 << 10 // each value kept of it (what the JSON report shows)
	maxKeptAlert   = 256 << 10
	maxIncidentKey = 512 // an incident key longer than this is kept as a hash
)

// record is one alert taken from the spool, in spool order.
type record struct {
	seq   uint64
	sum   uint64 // hash of the alert's own bytes in the spool
	recv  int64  // receive time, Unix ns
	input string
	run   int64
	a     event.Alert
	ev    *evidenceRec // an evidence record, not an alert
	evi   byte         // an alert's evidence decision on receipt (ev* codes)
}

// incident is one report that may still fold alerts: an incident, or a
// storm when storm is set. Its logical state (everything but the write
// bookkeeping) depends only on the records applied and their order, so
// that a replay after a crash rebuilds it exactly.
type incident struct {
	key       string
	id        string
	seq       uint64 // the spool position of the alert that opened it
	last      uint64 // of the last alert it counts
	day       time.Time
	name      string
	first     event.Alert // capped: see keep
	occ       int
	firstSeen time.Time // alert times
	lastSeen  time.Time
	lastRecv  int64 // receive time of the last alert, Unix ns
	samples   samples
	storm     *stormState
	// evidence is the snapshot taken at alert time, or why there is none;
	// nil where evidence does not apply. run is the run that received the
	// first alert, which alone may ask for the snapshot.
	evidence *report.Evidence
	evBytes  int64
	run      int64
	table    *rules.Table // the table when it opened; nil: the current one
	bytes    int64        // estimated memory held
	elem     *list.Element

	// Write bookkeeping.
	dirty     bool      // alerts counted since the last write
	pending   bool      // in writer.pending
	closed    bool      // no longer open: drop once written
	written   bool      // written at least once
	reported  int       // occurrences in the last durable write
	lastWrite time.Time // wall clock
	openedAt  time.Time // wall clock of the opening alert's receipt, for latency
}

// reportID derives a report's id from the spool position of the alert that
// opened it, and a checksum of that alert, so that replaying the spool
// after a crash gives the same id and file name, and a position reused
// after a lost spool tail gives another. The 48 bits of position and 16
// of checksum go through a bijective mix (splitmix64's finalizer), so two
// reports never share an id and the first few digits tell reports apart
// (`show` takes an id's start, as git takes a hash's).
func reportID(seq, sum uint64) string {
	x := seq<<16 | sum&0xffff
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return fmt.Sprintf("%016x", x^x>>31)
}

// reportName is the file name of a report: its time, the priority (which
// retention reads back), a slug of the rule and the id; never raw alert
// text.
func reportName(t time.Time, prio event.Priority, kind, rule, id string) string {
	p := store.PriorityName(int(prio))
	if p == "" {
		p = "unknown"
	}
	return t.Format("20060102T150405Z") + "-" + p + "-" + kind + safe.Slug(rule, 48) + "-" + id
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

// boundKey keeps a key short: a long one becomes its start and a hash of
// the whole, so that megabyte-long field values do not sit in the map.
func boundKey(k string) string {
	if len(k) <= maxIncidentKey {
		return k
	}
	sum := sha256.Sum256([]byte(k))
	return k[:maxIncidentKey/2] + "\x00" + hex.EncodeToString(sum[:])
}

// keep returns the part of an alert an incident keeps: at most
// maxKeptFields fields (by name), each value and the output cut to
// maxKeptValue, and all of it to about maxKeptAlert.
func keep(a event.Alert) event.Alert {
	if len(a.Fields) > maxKeptFields {
		names := make([]string, 0, len(a.Fields))
		for k := range a.Fields {
			names = append(names, k)
		}
		slices.Sort(names)
		f := make(event.Fields, maxKeptFields)
		for _, k := range names[:maxKeptFields] {
			f[k] = a.Fields[k]
		}
		a.Fields = f
	}
	for limit := maxKeptValue; alertSize(&a) > maxKeptAlert && limit >= 256; limit /= 4 {
		a = a.Capped(limit)
	}
	if len(a.Tags) > 64 {
		a.Tags = a.Tags[:64]
	}
	return a
}

// alertSize estimates the bytes an alert holds.
func alertSize(a *event.Alert) int64 {
	n := int64(len(a.Rule) + len(a.Source) + len(a.Hostname) + len(a.Output) + len(a.Raw) + 128)
	for _, t := range a.Tags {
		n += int64(len(t)) + 16
	}
	for k, v := range a.Fields {
		n += int64(len(k)+len(v.Text)) + 64
	}
	return n
}

// size estimates the bytes inc holds.
func (inc *incident) size() int64 {
	n := alertSize(&inc.first) + inc.samples.size() + int64(len(inc.key)+len(inc.name)) + 256 + inc.evBytes
	if inc.storm != nil {
		n += inc.storm.size()
	}
	return n
}

// fold counts one more alert, keeping a bounded sample of the values
// that differ from the first alert's.
func (inc *incident) fold(r *record) {
	a := &r.a
	inc.occ++
	inc.last = r.seq
	inc.lastRecv = r.recv
	inc.dirty = true
	if a.Time.Before(inc.firstSeen) {
		inc.firstSeen = a.Time
	}
	if a.Time.After(inc.lastSeen) {
		inc.lastSeen = a.Time
	}
	if inc.storm != nil {
		inc.storm.fold(a)
		return
	}
	for k, v := range a.Fields {
		if k == "evt.time" || k == "evt.time.iso8601" || k == "evt.rawtime" {
			continue
		}
		if first, ok := inc.first.Fields[k]; ok && first == v {
			continue
		}
		val := v.Text
		if v.Kind == event.Null {
			val = "null"
		}
		inc.samples.add(k, val)
	}
}

// report builds the incident's report as it stands. It runs on the render
// workers; an incident is only ever in one worker at a time and is not
// changed meanwhile.
func (inc *incident) report(current *rules.Table, w *writer) report.Report {
	var r report.Report
	if inc.storm != nil {
		r = rules.StormReport(rules.Storm{
			First: &inc.first, Priority: inc.storm.Priority, Count: inc.occ, FirstSeen: inc.firstSeen, LastSeen: inc.lastSeen,
			Threshold: w.stormIncidents, Window: w.stormWindow, Ended: inc.storm.Ended,
			Fields: inc.storm.report(), Before: slices.Clone(inc.storm.Before),
		})
	} else {
		t := inc.table
		if t == nil {
			t = current
		}
		var err error
		r, err = t.Build(&inc.first)
		if err != nil {
			w.log.Error().Err(err).Str("falco_rule", safe.Line(inc.first.Rule)).Msg("handler failed; generic report written instead")
		}
		inc.samples.fill(&r)
		rules.Received(&r, &inc.first)
		if inc.evidence != nil {
			ev := *inc.evidence
			r.Evidence = &ev
			evidence.Annotate(&r)
		}
	}
	r.ID = inc.id
	r.Occurrences = inc.occ
	r.FirstSeen.Time, r.LastSeen.Time = inc.firstSeen, inc.lastSeen
	r.Spool = &report.SpoolRange{First: inc.seq, Last: inc.last}
	return r
}

// entry is where the incident's report goes.
func (inc *incident) entry() store.Entry {
	return store.Entry{Day: inc.day, Name: inc.name}
}

// ref names the incident for a storm report's list.
func (inc *incident) ref(dayDir string) report.IncidentRef {
	return report.IncidentRef{ID: inc.id, Path: dayDir + "/" + inc.name + ".md", FirstSeen: report.Time{Time: inc.firstSeen}}
}
