package app

import (
	"cmp"
	"container/list"
	"path/filepath"
	"slices"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/rules"
	"github.com/falco-reporter/falco-reporter/internal/safe"
)

// Bounds of storm folding.
const (
	maxTrackers     = 1024 // rule and host pairs watched at once
	stormFirst      = 32   // first distinct values counted exactly per key field
	stormShown      = 10   // of those, the most frequent shown
	stormRecent     = 5    // most recent distinct values per key field
	stormSeen       = 512  // distinct values counted per key field
	maxStormBefore  = 100  // incidents listed as opened before the storm
	maxStormKeyPart = 512  // a tracker key longer than this is hashed
)

// tracker watches how many incidents one rule opens on one host, and holds
// the rule's storm while there is one.
type tracker struct {
	key    string
	opens  []int64              // receive times of recent openings, oldest first
	refs   []report.IncidentRef // the incidents of those openings
	storm  *incident            // the storm report, while the storm lasts
	last   int64                // receive time of the last alert seen
	elem   *list.Element        // in writer.trackerAge
	fields []string             // the key fields whose values a storm counts
}

// stormState is what a storm incident adds to an incident.
type stormState struct {
	Priority event.Priority          `json:"priority"` // the most severe seen
	Values   map[string]*valueSample `json:"values"`   // by key field
	Fields   []string                `json:"fields"`   // key fields, in report order
	Before   []report.IncidentRef    `json:"before"`
	Ended    bool                    `json:"ended,omitempty"`
}

// trackerKey identifies a rule on a host.
func trackerKey(a *event.Alert) string {
	return boundKey(a.Source + "\x00" + a.Rule + "\x00" + a.Hostname)
}

// stormFields are the fields whose values a storm of rule counts: the
// parts of the incident key that vary.
func stormFields(keyFields []string) []string {
	return append([]string{"container.id", "proc.exepath"}, keyFields...)
}

// fold counts one more alert in the storm.
func (s *stormState) fold(a *event.Alert) {
	if a.Priority.Valid() && a.Priority < s.Priority {
		s.Priority = a.Priority
	}
	for _, f := range s.Fields {
		v, _ := a.Fields.Get(f)
		if f == "proc.exepath" && v == "" {
			v, _ = a.Fields.Get("proc.name")
		}
		vs := s.Values[f]
		if vs == nil {
			vs = &valueSample{}
			s.Values[f] = vs
		}
		vs.add(safe.Cap(v, maxSampleBytes), stormFirst, stormRecent, stormSeen)
	}
}

// report returns the storm's key fields as the report shows them.
func (s *stormState) report() []report.StormField {
	out := make([]report.StormField, 0, len(s.Fields))
	for _, f := range s.Fields {
		vs := s.Values[f]
		if vs == nil {
			continue
		}
		top := slices.Clone(vs.First)
		slices.SortStableFunc(top, func(a, b valueCount) int { return cmp.Compare(b.N, a.N) })
		sf := report.StormField{Field: f, Recent: slices.Clone(vs.Recent), Distinct: vs.Seen.len(), DistinctAtLeast: vs.Full, OtherAlerts: vs.Other}
		for i, v := range top {
			if i == stormShown {
				sf.OtherAlerts += v.N
				continue
			}
			sf.Values = append(sf.Values, report.ValueCount{Value: v.V, Count: v.N})
		}
		if sf.Recent == nil {
			sf.Recent = []string{}
		}
		out = append(out, sf)
	}
	return out
}

func (s *stormState) size() int64 {
	n := int64(256 + 200*len(s.Before))
	for _, v := range s.Values {
		n += v.size()
	}
	return n
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
