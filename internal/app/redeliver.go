package app

// tailLen is how many recent alerts of an input are remembered to
// recognise a line the file input reads again after a crash. The file input
// saves its position at least every 1,000 lines.
const tailLen = 8192

// resumable lists the inputs that may deliver an alert again after a
// restart: the file input resumes from the position it last saved, which
// can be behind the last line it handed over.
var resumable = map[string]bool{"file": true}

// inputTail remembers the last alerts one input delivered, in any run, by
// the hash of their bytes, to recognise those delivered again by a new run.
type inputTail struct {
	Run  int64    `json:"run"`  // the run of the last alert
	Ring []uint64 `json:"ring"` // the last tailLen alerts delivered, counted or not
	Pos  int      `json:"pos"`  // next slot of Ring once full
	// Prev counts the hashes in Ring when this run began; Left is how many
	// more alerts of this run are checked against them.
	Prev map[uint64]int `json:"prev,omitempty"`
	Left int            `json:"left,omitempty"`
}

// redelivered reports whether r is an alert of a resumable input that an
// earlier run already took: the first alerts of a run are matched against
// the last ones delivered before it. The ring keeps every delivery, those
// recognised as repeats too, so that a run killed while it re-read lines
// leaves them known to the next. It depends only on the records, so a
// replay decides the same.
func (w *writer) redelivered(r *record) bool {
	if !resumable[r.input] {
		return false
	}
	t := w.tails[r.input]
	if t == nil {
		t = &inputTail{Run: r.run}
		w.tails[r.input] = t
	}
	if r.run != t.Run {
		prev := make(map[uint64]int, len(t.Ring))
		for _, h := range t.Ring {
			prev[h]++
		}
		t.Run, t.Prev, t.Left = r.run, prev, tailLen
	}
	dup := false
	if t.Left > 0 {
		t.Left--
		if t.Prev[r.sum] > 0 {
			t.Prev[r.sum]--
			dup = true
		}
		if t.Left == 0 {
			t.Prev = nil
		}
	}
	if len(t.Ring) < tailLen {
		t.Ring = append(t.Ring, r.sum)
	} else {
		t.Ring[t.Pos] = r.sum
		t.Pos = (t.Pos + 1) % tailLen
	}
	return dup
}
