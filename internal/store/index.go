package store

import (
	"container/heap"
	"time"
)

// record is what the index knows of one report: the sizes of its files and
// when it was last written.
type record struct {
	day, name string
	sizes     map[string]int64 // by extension
	mtime     time.Time        // the newest of its files
	pos       int              // position in the age heap
}

// index holds every report in the directory, oldest first, with running
// totals, so that retention never needs to rescan the directory.
type index struct {
	byKey  map[string]*record
	byAge  ageHeap
	perDay map[string]int // reports per day directory
	files  int
	bytes  int64
}

func newIndex() *index {
	return &index{byKey: map[string]*record{}, perDay: map[string]int{}}
}

// put records one file of a report. A report's age is the time of its
// newest file, so a report updated in place is kept as long as a new one.
func (x *index) put(day, name, ext string, size int64, mtime time.Time) {
	key := day + "/" + name
	r, ok := x.byKey[key]
	if !ok {
		r = &record{day: day, name: name, sizes: map[string]int64{}, mtime: mtime}
		x.byKey[key] = r
		x.perDay[day]++
		heap.Push(&x.byAge, r)
	}
	if old, ok := r.sizes[ext]; ok {
		x.bytes -= old
	} else {
		x.files++
	}
	r.sizes[ext] = size
	x.bytes += size
	if mtime.After(r.mtime) {
		r.mtime = mtime
		heap.Fix(&x.byAge, r.pos)
	}
}

// oldest returns the oldest report, or nil when the index is empty.
func (x *index) oldest() *record {
	if len(x.byAge) == 0 {
		return nil
	}
	return x.byAge[0]
}

// remove forgets r and all its files.
func (x *index) remove(r *record) {
	heap.Remove(&x.byAge, r.pos)
	delete(x.byKey, r.day+"/"+r.name)
	if x.perDay[r.day]--; x.perDay[r.day] <= 0 {
		delete(x.perDay, r.day)
	}
	x.files -= len(r.sizes)
	for _, n := range r.sizes {
		x.bytes -= n
	}
}

// ageHeap orders records oldest first; ties go to the earlier day, then
// to the smaller name, so that retention is deterministic.
type ageHeap []*record

func (h ageHeap) Len() int { return len(h) }

func (h ageHeap) Less(i, j int) bool {
	a, b := h[i], h[j]
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
