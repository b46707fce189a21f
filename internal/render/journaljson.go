package render

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/safe"
)

// What JournalJSON leaves out at each step, as journal_cut says it.
const (
	CutSamplesFields = "samples, and the alert's fields but those a listing reads; of the snapshot, open descriptors, sockets, cgroups and long command lines"
	CutLongValues    = "samples, the alert's fields but those a listing reads, of the snapshot, open descriptors, sockets, cgroups and long command lines, and all but the first 2 KiB of the output, the facts, the host, the rule and the tags"
	CutToListing     = "all but what a listing shows: the texts, facts, steps, samples, the snapshot and most fields"
	CutToIdentity    = "all but the report's identity: rule, host, priority, times and count"
)

// JournalJSON renders r as one line of JSON of at most max bytes, for the
// REPORT_JSON field of the report's journal entry. It is the JSON report
// (JSON) when that fits. A larger report is cut, in steps, until it fits:
//
//  1. samples go, and every alert field but those a listing reads
//     (report.ListingField), each of those capped at 1 KiB; the evidence
//     snapshot keeps its status, process, ancestry, files and sysctls,
//     without open descriptors, sockets and cgroups, command lines and
//     paths capped at 1 KiB;
//  2. the output line, each fact, the host, the rule and the tags are
//     capped at 2 KiB (what the Markdown report shows of a fact);
//  3. only what a listing shows is kept: the title, tags and listing
//     fields, short;
//  4. only the report's identity is kept.
//
// cut says what was left out, "" when nothing; the JSON says it too, in
// journal_cut. Caps are marked in the values themselves (safe.Cap).
func JournalJSON(r *report.Report, max int) (js []byte, cut string, err error) {
	steps := []struct {
		cut  string
		make func(report.Report) report.Report
	}{
		{"", func(c report.Report) report.Report { return c }},
		{CutSamplesFields, withoutSamples},
		{CutLongValues, func(c report.Report) report.Report { return shortValues(withoutSamples(c)) }},
		{CutToListing, listingOnly},
		{CutToIdentity, identityOnly},
	}
	for _, s := range steps {
		c := s.make(*r)
		b, err := JSON(&c)
		if err != nil {
			return nil, "", err
		}
		b = bytes.TrimSuffix(b, []byte("\n"))
		if s.cut != "" {
			note, _ := json.Marshal(s.cut)
			b = append(append(append(b[:len(b)-1], `,"journal_cut":`...), note...), '}')
		}
		if len(b) <= max {
			return b, s.cut, nil
		}
	}
	return nil, CutToIdentity, fmt.Errorf("report %s: %w", r.ID, errTooSmall)
}

var errTooSmall = errors.New("even the report's identity is larger than the journal field allows")

// Caps of the cut steps.
const (
	listingValueMax = 1 << 10
	stubValueMax    = 256
	stubTags        = 16
)

func withoutSamples(c report.Report) report.Report {
	c.Samples = nil
	c.Fields = listingFields(c.Fields, listingValueMax)
	c.Evidence = evidenceBrief(c.Evidence)
	return c
}

// evidenceBrief is a snapshot without its long lists: what a journal
// entry keeps of it.
func evidenceBrief(ev *report.Evidence) *report.Evidence {
	if ev == nil {
		return nil
	}
	b := *ev
	if ev.Process != nil {
		p := *ev.Process
		p.FDs, p.Sockets, p.Cgroup = nil, nil, nil
		p.Exe, p.Cwd = safe.Cap(p.Exe, listingValueMax), safe.Cap(p.Cwd, listingValueMax)
		p.Cmdline = capArgs(p.Cmdline, listingValueMax)
		b.Process = &p
	}
	b.Ancestry = make([]report.Ancestor, len(ev.Ancestry))
	for i, a := range ev.Ancestry {
		a.Exe, a.Cmdline = safe.Cap(a.Exe, stubValueMax), capArgs(a.Cmdline, stubValueMax)
		b.Ancestry[i] = a
	}
	b.Files = make([]report.FileStat, len(ev.Files))
	for i, f := range ev.Files {
		f.Path, f.Target, f.SameAs = safe.Cap(f.Path, listingValueMax), safe.Cap(f.Target, listingValueMax), capAll(f.SameAs, listingValueMax)
		b.Files[i] = f
	}
	return &b
}

// capArgs keeps the arguments of a command line that fit in max bytes,
// the last of them capped.
func capArgs(args []string, max int) []string {
	var out []string
	n := 0
	for _, a := range args {
		if n+len(a) > max {
			return append(out, safe.Cap(a, max-n))
		}
		out = append(out, a)
		n += len(a)
	}
	return out
}

func shortValues(c report.Report) report.Report {
	c.Output, c.Hostname, c.Rule = safe.Cap(c.Output, safe.MaxValue), safe.Cap(c.Hostname, safe.MaxValue), safe.Cap(c.Rule, safe.MaxValue)
	c.Tags = capAll(c.Tags, safe.MaxValue)
	facts := make([]report.Fact, len(c.Facts))
	for i, f := range c.Facts {
		facts[i] = report.Fact{Label: f.Label, Field: safe.Cap(f.Field, safe.MaxValue), Value: safe.Cap(f.Value, safe.MaxValue)}
	}
	c.Facts = facts
	return c
}

// listingOnly keeps what a listing shows, every string short. A long
// title is kept as one value: shown as code, never as prose.
func listingOnly(r report.Report) report.Report {
	c := identityOnly(r)
	c.Title = r.Title
	if t := r.Title.String(); len(t) > safe.MaxValue {
		c.Title = report.Text{{S: safe.Cap(t, safe.MaxValue), Value: true}}
	}
	for i, t := range r.Tags {
		if i == stubTags {
			break
		}
		c.Tags = append(c.Tags, safe.Cap(t, stubValueMax))
	}
	c.Fields = listingFields(r.Fields, stubValueMax)
	return c
}

// identityOnly keeps the report's id, rule, source, priority, host, times,
// count and handler, every string short.
func identityOnly(r report.Report) report.Report {
	return report.Report{
		ID: safe.Cap(r.ID, stubValueMax), Rule: safe.Cap(r.Rule, stubValueMax), Source: safe.Cap(r.Source, stubValueMax),
		Priority: safe.Cap(r.Priority, stubValueMax), Hostname: safe.Cap(r.Hostname, stubValueMax),
		FirstSeen: r.FirstSeen, LastSeen: r.LastSeen, Occurrences: r.Occurrences, Handler: safe.Cap(r.Handler, stubValueMax),
		Tags: []string{}, MITRE: []report.Technique{}, Facts: []report.Fact{},
		Investigation: []report.Step{}, FalsePositives: []report.Step{}, Remediation: []report.Step{},
		Fields: map[string]*string{},
	}
}

// listingFields returns the fields a listing reads, each capped at max.
func listingFields(fields map[string]*string, max int) map[string]*string {
	out := map[string]*string{}
	for k, v := range fields {
		if !report.ListingField(k) {
			continue
		}
		if v != nil {
			s := safe.Cap(*v, max)
			v = &s
		}
		out[k] = v
	}
	return out
}
