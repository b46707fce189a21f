package store

import (
	"container/heap"
	"time"
)

// record is what the index knows of one report: its priority, the sizes
// of its files and when it was last written.
type record struct {
	key       string // day/name: day and name share its bytes
	day, name string
	prio      int        // 0 (Emergency) to 7 (Debug), from the name
	sizes     []fileSize // one per extension; a slice, not a map: the index holds every report
	mtime     time.Time  // the newest of its files
	pos       int        // position in its priority's age heap
}

// fileSize is the size of one file of a report.
type fileSize struct {
	ext  string
	size int64
}

// index holds every report in the directory, oldest first within each
// priority, with running totals, so that retention never needs to rescan
// the directory.
type index struct {
	byKey  map[string]*record
	byPrio [priorities]ageHeap
	perDay map[string]int // reports per day directory
	files  int
	bytes  int64
}

func newIndex() *index {
	return &index{byKey: map[string]*record{}, perDay: map[string]int{}}
}

// reports returns how many reports the index holds.
func (x *index) reports() int { return len(x.byKey) }

// put records one file of a report. A report's age is the time of its
// newest file, so a report updated in place is kept as long as a new one.
func (x *index) put(day, name, ext string, size int64, mtime time.Time) {
	key := day + "/" + name
	r, ok := x.byKey[key]
	if !ok {
		r = &record{key: key, day: key[:len(day)], name: key[len(day)+1:], prio: priorityOf(name), mtime: mtime}
		x.byKey[key] = r
		x.perDay[r.day]++
		heap.Push(&x.byPrio[r.prio], r)
	}
	found := false
	for i := range r.sizes {
		if r.sizes[i].ext == ext {
			x.bytes -= r.sizes[i].size
			r.sizes[i].size, found = size, true
		}
	}
	if !found {
		r.sizes = append(r.sizes, fileSize{ext: ext, size: size})
		x.files++
	}
	x.bytes += size
	if mtime.After(r.mtime) {
		r.mtime = mtime
		heap.Fix(&x.byPrio[r.prio], r.pos)
	}
}

// oldest returns the oldest report of any priority, or nil.
func (x *index) oldest() *record {
	var o *record
	for p := range x.byPrio {
		if h := x.byPrio[p]; len(h) > 0 && (o == nil || older(h[0], o)) {
			o = h[0]
		}
	}
	return o
}

// leastImportant returns the report that retention deletes first to make
// room: of the lowest priority present, the oldest. Nil when empty.
func (x *index) leastImportant() *record {
	for p := priorities - 1; p >= 0; p-- {
		if h := x.byPrio[p]; len(h) > 0 {
			return h[0]
		}
	}
	return nil
}

// remove forgets r and all its files.
func (x *index) remove(r *record) {
	heap.Remove(&x.byPrio[r.prio], r.pos)
	delete(x.byKey, r.key)
	if x.perDay[r.day]--; x.perDay[r.day] <= 0 {
		delete(x.perDay, r.day)
	}
	x.files -= len(r.sizes)
	for _, f := range r.sizes {
		x.bytes -= f.size
	}
}

// ageHeap orders records oldest first; ties go to the earlier day, then
// to the smaller name, so that retention is deterministic.
type ageHeap []*record

func (h ageHeap) Len() int { return len(h) }

func (h ageHeap) Less(i, j int) bool { return older(h[i], h[j]) }

// older reports whether a goes before b.
func older(a, b *record) bool {
	if !a.mtime.Equal(b.mtime) {
		return a.mtime.Before(b.mtime)
	}
	if a.day != b.day {
		return a.day < b.day
	}
	return a.name < b.name
}

func (h ageHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].pos, h[j].pos = i, j
}

func (h *ageHeap) Push(v any) {
	r := v.(*record)
	r.pos = len(*h)
	*h = append(*h, r)
}

func (h *ageHeap) Pop() any {
	old := *h
	r := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	r.pos = -1
	return r
}
