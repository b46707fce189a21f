package app

import (
	"cmp"
	"container/list"
	"slices"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/report"
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
