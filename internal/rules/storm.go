package rules

import (
	"fmt"
	"strconv"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/report"
)

// Storm is what the daemon knows of a storm: one rule that opened more
// incidents on one host within a window than the storm threshold allows,
// so that its further alerts are counted in one storm report.
type Storm struct {
	First     *event.Alert   // the first alert folded into the storm
	Priority  event.Priority // the most severe priority among its alerts
	Count     int            // alerts folded into the storm
	FirstSeen time.Time      // alert times
	LastSeen  time.Time
	Threshold int           // incidents per Window that start a storm
	Window    time.Duration //
	Ended     bool          // the rule was quiet for a whole Window
	Fields    []report.StormField
	Before    []report.IncidentRef // the incidents opened before the storm
}

// maxStormFacts bounds the value rows of a storm report's facts table.
const maxStormFacts = 8

// StormReport builds the report of a storm. It is pure: the daemon sets
// the id and the spool range.
func StormReport(s Storm) report.Report {
	a := s.First
	win := span(s.Window)
	r := report.Report{
		Rule: a.Rule, Source: a.Source, Hostname: a.Hostname, Output: a.Output,
		Priority:    s.Priority.String(),
		Tags:        a.Tags,
		FirstSeen:   report.Time{Time: s.FirstSeen},
		LastSeen:    report.Time{Time: s.LastSeen},
		Occurrences: s.Count,
		Handler:     report.HandlerStorm,
		Title:       report.Text{{S: "Alert storm: "}, {S: a.Rule, Value: true}, {S: " on "}, {S: a.Hostname, Value: true}},
		MITRE:       MITRE(a.Tags),
		Storm: &report.StormInfo{Threshold: s.Threshold, Window: s.Window.String(), Ended: s.Ended,
			Fields: s.Fields, Before: s.Before},
	}
	if r.Tags == nil {
		r.Tags = []string{}
	}
	if r.MITRE == nil {
		r.MITRE = []report.Technique{}
	}
	if r.Storm.Fields == nil {
		r.Storm.Fields = []report.StormField{}
	}
	if r.Storm.Before == nil {
		r.Storm.Before = []report.IncidentRef{}
	}
	r.Fields = make(map[string]*string, len(a.Fields))
	for k, v := range a.Fields {
		if v.Kind == event.Null {
			r.Fields[k] = nil
			continue
		}
		text := v.Text
		r.Fields[k] = &text
	}

	state := "is still going on"
	if s.Ended {
		state = "ended: the rule was quiet for " + win
	}
	r.Summary = report.Text{
		{S: "Falco rule "}, {S: a.Rule, Value: true}, {S: " opened more than " + strconv.Itoa(s.Threshold) + " incidents on host "},
		{S: a.Hostname, Value: true},
		{S: fmt.Sprintf(" within %s: an alert storm. From %s on, its alerts that would each have opened a new incident are counted in this one report instead: %s so far, the last at %s. The storm %s. %s",
			win, stamp(s.FirstSeen), plural(s.Count, "alert"), stamp(s.LastSeen), state, before(len(s.Before)))},
	}
	r.Why = report.Plain("A flood of alerts is a finding in itself. Intruders trigger floods on purpose: to hide one real action among thousands of decoys " +
		"(a binary copied under thousands of names, thousands of file names touched), to tire the people who read the alerts, and to make " +
		"report retention delete the evidence written before the flood. falco-reporter folds the flood so that it cannot do the last: " +
		"the reports written before the storm stay. Otherwise a rule firing this often on one host is a loop or scanner at work, or a rule that needs tuning; each needs a look.")

	r.Facts = []report.Fact{
		{Label: "Alerts in the storm", Value: strconv.Itoa(s.Count)},
		{Label: "First alert of the storm", Value: stamp(s.FirstSeen)},
		{Label: "Last alert of the storm", Value: stamp(s.LastSeen)},
		{Label: "Storm threshold", Value: fmt.Sprintf("more than %d incidents within %s", s.Threshold, win)},
	}
	for _, f := range s.Fields {
		d := strconv.Itoa(f.Distinct)
		if f.DistinctAtLeast {
			d = "at least " + d
		}
		r.Facts = append(r.Facts, report.Fact{Label: "Distinct values of " + f.Field, Value: d})
		for i, v := range f.Values {
			if i == maxStormFacts {
				break
			}
			r.Facts = append(r.Facts, report.Fact{Label: f.Field + ", " + plural(v.Count, "alert"), Value: v.Value})
		}
		for _, v := range f.Recent {
			r.Facts = append(r.Facts, report.Fact{Label: f.Field + ", recent", Value: v})
		}
		if f.OtherAlerts > 0 {
			r.Facts = append(r.Facts, report.Fact{Label: f.Field + ", alerts with other values", Value: strconv.Itoa(f.OtherAlerts)})
		}
	}
	for _, b := range s.Before {
		r.Facts = append(r.Facts, report.Fact{Label: "Incident before the storm, " + stamp(b.FirstSeen.Time), Value: b.Path})
	}

	since, until := s.FirstSeen.Add(-s.Window).UTC(), s.LastSeen.Add(time.Minute).UTC()
	r.Investigation = []report.Step{
		{Text: report.Plain("Read the reports of the incidents opened just before the storm (listed in the facts above, relative to the reports directory): " +
			"a storm often starts right after the action it is meant to hide.")},
		{Text: report.Plain("Look at the most recent values above: the last thing done under cover of the flood is shown even when thousands of values are not.")},
		{Text: report.Plain("Find the process that causes the flood; it usually stands out by its CPU time. List the processes, busiest first:"),
			Command: "ps -eo pid,ppid,user,etime,time,args --sort=-time | head -n 20"},
		{Text: report.Plain("Read Falco's own log for the storm's time span:"),
			Command: "journalctl -t falco --since '" + since.Format("2006-01-02 15:04:05") + " UTC' --until '" + until.Format("2006-01-02 15:04:05") + " UTC' --no-pager | tail -n 200"},
	}
	r.FalsePositives = []report.Step{
		{Text: report.Plain("falcosecurity/event-generator, load tests, backups, package upgrades and indexers touch many files in a burst and can set off a storm of a file rule.")},
		{Text: report.Plain("A storm that recurs at the same time every day usually comes from a scheduled job: compare with cron and systemd timers.")},
	}
	r.Remediation = []report.Step{
		{Text: report.Plain("If the cause is malicious, contain the host or container first; the flood may still be running.")},
		{Text: report.Plain("If it is legitimate, add a Falco exception for the process (the reports of the incidents before the storm carry a ready-made one), " +
			"or raise incidents.storm.incidents in falco-reporter's configuration for this environment."),
			Changes: report.Plain("Falco stops alerting on that process; falco-reporter's storm threshold changes at the next restart.")},
		{Text: report.Plain("Keep this report with the others: it is the record that the flood happened.")},
	}
	return r
}

// plural says "1 alert", "2 alerts".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// before says what became of the incidents opened before the storm.
func before(n int) string {
	switch n {
	case 0:
		return "No incident of the rule was opened just before it."
	case 1:
		return "The incident the rule opened before the storm keeps its own report, listed below."
	}
	return "The " + strconv.Itoa(n) + " incidents the rule opened before the storm keep their own reports, listed below."
}

// span formats a window in words: 60s is "1 minute", 90s "90 seconds".
func span(d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return plural(int(d/time.Minute), "minute")
	case d%time.Second == 0:
		return plural(int(d/time.Second), "second")
	}
	return d.String()
}

// stamp formats an alert time as reports show it.
func stamp(t time.Time) string { return report.Time{Time: t}.String() }
