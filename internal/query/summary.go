package query

import (
	"cmp"
	"slices"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/report"
)

// Storms say when a rule stormed: at least Min incidents of it began
// within Window.
type Storms struct {
	Window time.Duration
	Min    int
}

// DefaultStorms is 20 incidents of one rule within 5 minutes.
var DefaultStorms = Storms{Window: 5 * time.Minute, Min: 20}

// maxTop is how many incidents Summarize ranks by occurrences.
const maxTop = 10

// Summarize sums up entries (a List result) for the period since..until;
// a zero since starts at the oldest entry, a zero until is now.
func Summarize(entries []report.Entry, since, until time.Time, storms Storms, now time.Time) report.Digest {
	if until.IsZero() {
		until = now
	}
	if since.IsZero() {
		since = until
		for _, e := range entries {
			if e.FirstSeen.Before(since) {
				since = e.FirstSeen.Time
			}
		}
	}
	d := report.Digest{Since: since, Until: until, Reports: len(entries)}
	prio, rule, host, source := counter{}, counter{}, counter{}, counter{}
	byRule := map[string][]time.Time{}
	for _, e := range entries {
		d.Occurrences += e.Occurrences
		prio.add(e.Priority, e)
		rule.add(e.Rule, e)
		host.add(e.Hostname, e)
		source.add(e.Source, e)
		byRule[e.Rule] = append(byRule[e.Rule], e.FirstSeen.Time)
	}
	d.ByPriority = prio.sorted(func(a, b report.Count) int { return cmp.Compare(severity(a.Key), severity(b.Key)) })
	d.ByRule, d.ByHost, d.BySource = rule.sorted(nil), host.sorted(nil), source.sorted(nil)

	top := slices.Clone(entries)
	slices.SortStableFunc(top, func(a, b report.Entry) int { return cmp.Compare(b.Occurrences, a.Occurrences) })
	d.Top = top[:min(len(top), maxTop)]

	for r, times := range byRule {
		if s, ok := storm(r, times, storms); ok {
			d.Storms = append(d.Storms, s)
		}
	}
	slices.SortFunc(d.Storms, func(a, b report.Storm) int {
		return cmp.Or(cmp.Compare(b.Reports, a.Reports), a.From.Compare(b.From), cmp.Compare(a.Rule, b.Rule))
	})
	d.Timeline, d.Bucket = timeline(entries, since, until)
	return d
}

// counter counts reports and occurrences by key.
type counter map[string]*report.Count

func (c counter) add(key string, e report.Entry) {
	n := c[key]
	if n == nil {
		n = &report.Count{Key: key}
		c[key] = n
	}
	n.Reports++
	n.Occurrences += e.Occurrences
}

// sorted returns the counts ordered by by, or by most reports first.
func (c counter) sorted(by func(a, b report.Count) int) []report.Count {
	out := make([]report.Count, 0, len(c))
	for _, n := range c {
		out = append(out, *n)
	}
	if by == nil {
		by = func(a, b report.Count) int {
			return cmp.Or(cmp.Compare(b.Reports, a.Reports), cmp.Compare(b.Occurrences, a.Occurrences), cmp.Compare(a.Key, b.Key))
		}
	}
	slices.SortFunc(out, func(a, b report.Count) int { return cmp.Or(by(a, b), cmp.Compare(a.Key, b.Key)) })
	return out
}

// severity orders priorities worst first; unknown ones last.
func severity(p string) int {
	v, err := event.ParsePriority(p)
	if err != nil {
		return 99
	}
	return int(v)
}

// storm finds the busiest window of a rule's incident start times.
func storm(rule string, times []time.Time, s Storms) (report.Storm, bool) {
	if s.Min <= 0 || len(times) < s.Min {
		return report.Storm{}, false
	}
	slices.SortFunc(times, time.Time.Compare)
	best, from := 0, 0
	for i, j := 0, 0; j < len(times); j++ {
		for times[j].Sub(times[i]) > s.Window {
			i++
		}
		if j-i+1 > best {
			best, from = j-i+1, i
		}
	}
	if best < s.Min {
		return report.Storm{}, false
	}
	return report.Storm{Rule: rule, Reports: best, From: times[from], To: times[from+best-1], Window: s.Window}, true
}

// timeline counts incidents by the hour they began; by the day when the
// period is longer than three days.
func timeline(entries []report.Entry, since, until time.Time) ([]report.Count, time.Duration) {
	bucket := time.Hour
	if until.Sub(since) > 72*time.Hour {
		bucket = 24 * time.Hour
	}
	start := since.UTC().Truncate(bucket)
	n := int(until.Sub(start)/bucket) + 1
	if n <= 0 || n > 10000 {
		return nil, bucket
	}
	out := make([]report.Count, n)
	for i := range out {
		out[i].Key = start.Add(time.Duration(i) * bucket).Format(time.RFC3339)
	}
	for _, e := range entries {
		i := int(e.FirstSeen.Sub(start) / bucket)
		if e.FirstSeen.Before(start) {
			i = 0 // began before the period, still going in it
		}
		if i >= 0 && i < n {
			out[i].Reports++
			out[i].Occurrences += e.Occurrences
		}
	}
	// Over long periods, the quiet stretch before the first incident and
	// after the last is left out.
	if len(out) > 48 {
		first, last := 0, len(out)-1
		for first < last && out[first].Reports == 0 {
			first++
		}
		for last > first && out[last].Reports == 0 {
			last--
		}
		out = out[first : last+1]
	}
	return out, bucket
}
