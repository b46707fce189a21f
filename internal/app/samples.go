package app

import (
	"slices"

	"github.com/cespare/xxhash/v2"

	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/safe"
)

// Bounds of what a folded incident keeps of the values that differed
// between its alerts.
const (
	maxSampledFields = 32  // field names sampled per incident
	sampleFirst      = 5   // first distinct values kept per field
	sampleRecent     = 5   // most recent distinct values kept per field
	sampleSeen       = 256 // distinct values counted exactly per field
	maxSampleBytes   = 256 // each kept value is cut to this
)

// valueSample keeps a bounded picture of the values one field took: the
// first distinct values (with how many alerts had each), the most recent
// other distinct values, and how many distinct values there were, counted
// exactly up to a bound. Everything in it depends only on the values added
// and their order, so that a replay rebuilds it exactly.
type valueSample struct {
	First  []valueCount `json:"first"`
	Recent []string     `json:"recent,omitempty"` // oldest first; none of them in First
	Seen   hashSet      `json:"seen"`
	Full   bool         `json:"full,omitempty"`  // more distinct values than Seen holds
	Other  int          `json:"other,omitempty"` // values added that are not in First
}

type valueCount struct {
	V    string `json:"v"`
	N    int    `json:"n"`
	hash uint64
}

// add records one more value; first, recent and seen bound the sample.
func (s *valueSample) add(v string, first, recent, seen int) {
	h := xxhash.Sum64String(v)
	for i := range s.First {
		if s.First[i].hash == h && s.First[i].V == v {
			s.First[i].N++
			return
		}
	}
	if !s.Full {
		if s.Seen.len() >= seen && !s.Seen.has(h) {
			s.Full = true
		} else {
			s.Seen.add(h)
		}
	}
	if len(s.First) < first {
		s.First = append(s.First, valueCount{V: v, N: 1, hash: h})
		return
	}
	s.Other++
	if i := slices.Index(s.Recent, v); i >= 0 {
		s.Recent = append(s.Recent[:i], s.Recent[i+1:]...)
	} else if len(s.Recent) == recent {
		s.Recent = s.Recent[1:]
	}
	s.Recent = append(s.Recent, v)
}

// shown returns the values to show: the first ones, then the recent ones.
func (s *valueSample) shown() []string {
	out := make([]string, 0, len(s.First)+len(s.Recent))
	for _, f := range s.First {
		out = append(out, f.V)
	}
	return append(out, s.Recent...)
}

// notShown returns how many distinct values are not shown.
func (s *valueSample) notShown() report.NotShown {
	return report.NotShown{Values: max(0, s.Seen.len()-len(s.First)-len(s.Recent)), AtLeast: s.Full}
}

// size estimates the bytes s holds.
func (s *valueSample) size() int64 {
	n := int64(64 + 8*len(s.Seen.Slots))
	for _, f := range s.First {
		n += int64(len(f.V)) + 40
	}
	for _, r := range s.Recent {
		n += int64(len(r)) + 16
	}
	return n
}

// rehash restores the hashes of First after a checkpoint is loaded.
func (s *valueSample) rehash() {
	for i := range s.First {
		s.First[i].hash = xxhash.Sum64String(s.First[i].V)
	}
}

// samples is what an incident keeps of the values that differed from its
// first alert's: a valueSample per field, for a bounded number of fields.
type samples struct {
	Fields map[string]*valueSample `json:"fields,omitempty"`
	// Unsampled counts the distinct field names that differed beyond
	// maxSampledFields.
	Unsampled hashSet `json:"unsampled"`
}

// add samples value v of field k.
func (s *samples) add(k, v string) {
	fs, ok := s.Fields[k]
	if !ok {
		if len(s.Fields) >= maxSampledFields {
			if h := xxhash.Sum64String(k); s.Unsampled.len() < sampleSeen {
				s.Unsampled.add(h)
			}
			return
		}
		if s.Fields == nil {
			s.Fields = map[string]*valueSample{}
		}
		fs = &valueSample{}
		s.Fields[k] = fs
	}
	fs.add(safe.Cap(v, maxSampleBytes), sampleFirst, sampleRecent, sampleSeen)
}

func (s *samples) size() int64 {
	n := int64(8 * len(s.Unsampled.Slots))
	for k, f := range s.Fields {
		n += int64(len(k)) + 48 + f.size()
	}
	return n
}

// fill puts the samples into r.
func (s *samples) fill(r *report.Report) {
	if len(s.Fields) == 0 {
		return
	}
	r.Samples = make(map[string][]string, len(s.Fields))
	for k, f := range s.Fields {
		r.Samples[k] = f.shown()
		if n := f.notShown(); n.Values > 0 {
			if r.SamplesNotShown == nil {
				r.SamplesNotShown = map[string]report.NotShown{}
			}
			r.SamplesNotShown[k] = n
		}
	}
	r.SampleFieldsNotShown = s.Unsampled.len()
}

// hashSet is a set of 64-bit hashes with open addressing; 0 stands for
// the hash 0 in a slot of its own. It grows by doubling and its Slots
// go into the checkpoint as they are.
type hashSet struct {
	Slots []uint64 `json:"slots,omitempty"`
	N     int      `json:"n,omitempty"`
	Zero  bool     `json:"zero,omitempty"`
}

func (h *hashSet) len() int {
	if h.Zero {
		return h.N + 1
	}
	return h.N
}

func (h *hashSet) has(x uint64) bool {
	if x == 0 {
		return h.Zero
	}
	if len(h.Slots) == 0 {
		return false
	}
	mask := uint64(len(h.Slots) - 1)
	for i := x & mask; ; i = (i + 1) & mask {
		switch h.Slots[i] {
		case x:
			return true
		case 0:
			return false
		}
	}
}

func (h *hashSet) add(x uint64) {
	if x == 0 {
		h.Zero = true
		return
	}
	if 2*(h.N+1) > len(h.Slots) {
		old := h.Slots
		h.Slots = make([]uint64, max(8, 2*len(old)))
		h.N = 0
		for _, y := range old {
			if y != 0 {
				h.insert(y)
			}
		}
	}
	h.insert(x)
}

func (h *hashSet) insert(x uint64) {
	mask := uint64(len(h.Slots) - 1)
	for i := x & mask; ; i = (i + 1) & mask {
		switch h.Slots[i] {
		case x:
			return
		case 0:
			h.Slots[i] = x
			h.N++
			return
		}
	}
}
