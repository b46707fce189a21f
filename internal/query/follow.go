package query

import (
	"context"
	"slices"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/report"
)

// Follow implements Backend by looking at the directory every poll
// interval; a look reads only the directories whose modification time
// changed, and in them only new or rewritten files.
//
// Nothing written after Follow is called is missed: the first look treats
// every report whose file changed since a little before the call as new
// (file times come from a coarse clock), so a report written between the
// call and that first look is printed, not taken for history.
func (l *Local) Follow(ctx context.Context, f Filter, fn func(Change) error) error {
	m, err := compile(f)
	if err != nil {
		return err
	}
	cut := l.now().Add(-racy)
	if l.afterStart != nil {
		l.afterStart()
	}
	s := newScanner(l.dir, f.Grep, l.warn, l.now)
	all, _, err := s.scan()
	if err != nil {
		return err
	}
	// shown holds, by id, what was last printed of each report, or for
	// a report that was there before, what it was.
	shown := map[string]report.Entry{}
	var first []report.Entry
	for _, r := range all {
		if m.match(r) && (!f.Since.IsZero() || !r.modTime.Before(cut)) {
			first = append(first, r.entry)
		} else {
			shown[r.entry.ID] = r.entry
		}
	}
	if err := emit(first, shown, fn); err != nil {
		return err
	}
	t := time.NewTicker(l.poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		_, fresh, err := s.scan()
		if err != nil {
			return err
		}
		var changed []report.Entry
		for _, r := range fresh {
			if m.match(r) {
				changed = append(changed, r.entry)
			}
		}
		if err := emit(changed, shown, fn); err != nil {
			return err
		}
	}
}

// emit calls fn, oldest first, for each entry that is new or changed in
// what a reader sees (occurrences, last seen, priority); a rewrite that
// changed none of these is not shown again.
func emit(es []report.Entry, shown map[string]report.Entry, fn func(Change) error) error {
	slices.SortFunc(es, func(a, b report.Entry) int { return newestFirst(&b, &a) })
	for _, e := range es {
		prev, seen := shown[e.ID]
		if seen && prev.Occurrences == e.Occurrences && prev.LastSeen.Equal(e.LastSeen.Time) && prev.Priority == e.Priority {
			continue
		}
		shown[e.ID] = e
		if err := fn(Change{Entry: e, New: !seen}); err != nil {
			return err
		}
	}
	return nil
}
