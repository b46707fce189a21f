package query

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/query/querytest"
	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/vltest"
)

// fleetFixture is a reports directory and a real VictoriaLogs holding the
// journal entries the daemon wrote for the same reports.
type fleetFixture struct {
	dir   string
	rs    []report.Report
	vl    *vltest.Server
	local *Local
	fleet *Fleet
}

// newFleetFixture writes n reports and their entries: an incident of
// several occurrences has an entry per write, the last one with its final
// count; one latest entry arrives twice (systemd-journal-upload sends the
// entry at its saved cursor again when it restarts); and entries that did
// not come from falco-reporter.service carry forged reports.
func newFleetFixture(t *testing.T, n int) *fleetFixture {
	t.Helper()
	rs, err := querytest.Reports(n, end)
	if err != nil {
		t.Fatal(err)
	}
	// A custom rule name the journal escapes: the entry's FALCO_RULE is
	// not the report's rule.
	rs[4].Rule = "Custom \x1b[31mrule"
	return newFleetFixtureOf(t, rs)
}

// newFleetFixtureOf is newFleetFixture for the reports rs.
func newFleetFixtureOf(t *testing.T, rs []report.Report) *fleetFixture {
	t.Helper()
	vl := vltest.Start(t)
	fx := &fleetFixture{vl: vl, rs: rs}
	fx.dir = t.TempDir()
	paths, err := querytest.Write(fx.dir, fx.rs, true)
	if err != nil {
		t.Fatal(err)
	}
	var entries []vltest.Entry
	for i := range fx.rs {
		r := fx.rs[i]
		written := r.LastSeen.Add(time.Second)
		for occ := 1; occ <= r.Occurrences; occ++ {
			part := r
			part.Occurrences = occ
			e, err := querytest.JournalEntry(&part, strings.TrimSuffix(paths[i], ".json")+".md", written.Add(time.Duration(occ-r.Occurrences)*5*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			entries = append(entries, e)
		}
	}
	entries = append(entries, entries[len(entries)-1]) // sent again
	forged := fx.rs[0]
	forged.ID, forged.Hostname = "f0f0f0f0f0f0f0f0", "node-1"
	for _, unit := range []string{"", "evil.service"} {
		e, err := querytest.JournalEntry(&forged, "/tmp/x.md", end)
		if err != nil {
			t.Fatal(err)
		}
		delete(e, "_SYSTEMD_UNIT")
		if unit != "" {
			e["_SYSTEMD_UNIT"] = unit
		}
		entries = append(entries, e)
	}
	rand.Shuffle(len(entries), func(i, j int) { entries[i], entries[j] = entries[j], entries[i] })
	vl.Ingest(t, entries)
	vl.Flush(t)
	fx.local = NewLocal(fx.dir, nil)
	if fx.fleet, err = NewFleet(FleetOptions{URL: vl.URL}); err != nil {
		t.Fatal(err)
	}
	return fx
}

// sameEntries fails unless the fleet listed what the directory did, in
// the same order; the files differ (the fleet gives the paths on each
// host).
func sameEntries(t *testing.T, local, fleet []report.Entry) {
	t.Helper()
	if len(local) != len(fleet) {
		t.Fatalf("fleet lists %d reports, the directory %d", len(fleet), len(local))
	}
	for i := range local {
		l, f := local[i], fleet[i]
		if f.Files.Markdown != l.Files.Markdown {
			t.Errorf("%s: fleet path %q, want %q", l.ID, f.Files.Markdown, l.Files.Markdown)
		}
		l.Files, f.Files = report.Files{}, report.Files{}
		if !reflect.DeepEqual(l, f) {
			t.Errorf("row %d:\nfleet %+v\nlocal %+v", i, f, l)
		}
	}
}

// TestFleetListsWhatTheDirectoryLists: every filter selects the same
// reports, in the same order, from VictoriaLogs as from the reports
// directory, with each report's final count and nothing forged or twice.
func TestFleetListsWhatTheDirectoryLists(t *testing.T) {
	fx := newFleetFixture(t, 60)
	tests := []struct {
		name string
		f    Filter
	}{
		{"all", Filter{}},
		{"limit", Filter{Limit: 7}},
		{"priority critical or worse", Filter{Priority: prio(event.PriorityCritical)}},
		{"priority warning or worse", Filter{Priority: prio(event.PriorityWarning)}},
		{"priority debug or worse", Filter{Priority: prio(event.PriorityDebug)}},
		{"rule glob, any case", Filter{Rule: "terminal SHELL*"}},
		{"rule exact", Filter{Rule: "Write below binary dir"}},
		{"rule no match", Filter{Rule: "Write below"}},
		{"rule escaped in the journal", Filter{Rule: "custom ?[[]31mrule"}},
		{"rule set", Filter{Rule: "[tw]*"}},
		{"host", Filter{Host: "node-2"}},
		{"host glob", Filter{Host: "NODE-[12]"}},
		{"container short id", Filter{Container: "c0ffee1234ab"}},
		{"container id prefix", Filter{Container: "c0ffee12"}},
		{"container name", Filter{Container: "web-frontend"}},
		{"container host", Filter{Container: "host"}},
		{"executable", Filter{Exe: "/usr/bin/bash"}},
		{"source", Filter{Source: "INTERNAL"}},
		{"grep", Filter{Grep: "ETC/SHADOW"}},
		{"grep with quotes", Filter{Grep: `"`}},
		{"since", Filter{Since: end.Add(-10 * time.Minute)}},
		{"since and until", Filter{Since: end.Add(-30 * time.Minute), Until: end.Add(-20 * time.Minute)}},
		{"everything at once", Filter{Rule: "Terminal shell in container", Host: "node-*", Container: "c0ffee1234ab", Since: end.Add(-time.Hour), Until: end, Priority: prio(event.PriorityNotice)}},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			local, err := fx.local.List(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			fleet, err := fx.fleet.List(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if len(local) == 0 && !strings.Contains(tt.name, "no match") {
				t.Fatal("the test data has no report for this filter")
			}
			sameEntries(t, local, fleet)
		})
	}
}

// TestFleetLogsQLSelectsLess: what is pushed to VictoriaLogs does select
// (rule, host, priority, source, time, grep are not all left to the
// client).
func TestFleetLogsQLSelectsLess(t *testing.T) {
	fx := newFleetFixture(t, 30)
	ctx := context.Background()
	all, err := fx.fleet.query(ctx, Filter{}, "", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 30 {
		t.Fatalf("%d latest entries, want 30", len(all))
	}
	for _, f := range []Filter{
		{Rule: "Write below binary dir"}, {Host: "node-3"}, {Priority: prio(event.PriorityCritical)},
		{Source: "internal"}, {Grep: "/etc/shadow"}, {Since: end.Add(-10 * time.Minute).Add(clockSlack)},
	} {
		got, err := fx.fleet.query(ctx, f, "", false)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 || len(got) >= len(all) {
			t.Errorf("%+v: VictoriaLogs returned %d of %d entries", f, len(got), len(all))
		}
	}
}

func TestFleetGet(t *testing.T) {
	fx := newFleetFixture(t, 30)
	ctx := context.Background()
	r := fx.rs[5]
	for _, ref := range []string{r.ID, r.ID[:9]} {
		doc, err := fx.fleet.Get(ctx, ref, Filter{})
		if err != nil {
			t.Fatalf("Get(%s): %v", ref, err)
		}
		local, err := fx.local.Get(ctx, ref, Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if string(doc.JSON)+"\n" != string(local.JSON) {
			t.Error("REPORT_JSON is not the JSON report")
		}
		if !reflect.DeepEqual(doc.Report, local.Report) || doc.Report.Occurrences != r.Occurrences || doc.Partial != "" {
			t.Errorf("report differs: occurrences %d, want %d", doc.Report.Occurrences, r.Occurrences)
		}
	}
	for _, ref := range []string{"f0f0f0f0f0f0f0f0", "zzz", "../../etc/passwd", ""} {
		if _, err := fx.fleet.Get(ctx, ref, Filter{}); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q): %v", ref, err)
		}
	}
	if _, err := fx.fleet.Get(ctx, "", Filter{}); !errors.Is(err, ErrNotFound) {
		t.Error("empty id")
	}
}

// TestFleetSameIDOnTwoHosts: report ids are unique per host only.
func TestFleetSameIDOnTwoHosts(t *testing.T) {
	vl := vltest.Start(t)
	rs, err := querytest.Reports(2, end)
	if err != nil {
		t.Fatal(err)
	}
	rs[1].ID = rs[0].ID
	var entries []vltest.Entry
	for i := range rs {
		e, err := querytest.JournalEntry(&rs[i], "/r.md", end)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, e)
	}
	vl.Ingest(t, entries)
	vl.Flush(t)
	f, err := NewFleet(FleetOptions{URL: vl.URL})
	if err != nil {
		t.Fatal(err)
	}
	es, err := f.List(context.Background(), Filter{})
	if err != nil || len(es) != 2 {
		t.Fatalf("%d reports, %v", len(es), err)
	}
	_, err = f.Get(context.Background(), rs[0].ID, Filter{})
	if !errors.Is(err, ErrAmbiguous) || !strings.Contains(err.Error(), "on node-1") || !strings.Contains(err.Error(), "--host") {
		t.Errorf("same id on two hosts: %v", err)
	}
	doc, err := f.Get(context.Background(), rs[0].ID, Filter{Host: "node-2"})
	if err != nil || doc.Report.Hostname != "node-2" {
		t.Errorf("with --host: %v", err)
	}
}

// TestFleetCutReport: a report cut to fit its entry is listed, and Get
// says what it lacks and where the whole one is.
func TestFleetCutReport(t *testing.T) {
	vl := vltest.Start(t)
	rs, err := querytest.Reports(1, end)
	if err != nil {
		t.Fatal(err)
	}
	r := &rs[0]
	for i := range 3000 {
		v := strings.Repeat("x", 20)
		r.Fields[fmt.Sprintf("custom.field%04d", i)] = &v
	}
	e, err := querytest.JournalEntry(r, "/var/lib/falco-reporter/reports/2026-04-02/x.md", end)
	if err != nil {
		t.Fatal(err)
	}
	if e["REPORT_TRUNCATED"] != "1" {
		t.Fatal("the entry is not cut")
	}
	vl.Ingest(t, []vltest.Entry{e})
	vl.Flush(t)
	f, _ := NewFleet(FleetOptions{URL: vl.URL})
	es, err := f.List(context.Background(), Filter{Container: *r.Fields["container.id"]})
	if err != nil || len(es) != 1 || es[0].Subject == "" {
		t.Fatalf("cut report not listed by its container: %v %+v", err, es)
	}
	doc, err := f.Get(context.Background(), r.ID, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(doc.Partial, "samples, and the alert's fields") || !strings.Contains(doc.Partial, "on node-1 at /var/lib/falco-reporter/reports/2026-04-02/x.md") {
		t.Errorf("Partial = %q", doc.Partial)
	}
}

// TestFleetGrepReadsTheLatestEntry: --grep looks in a report's final
// state, as in the directory, not in an earlier entry of it that held
// the word (here a field the final report no longer has).
func TestFleetGrepReadsTheLatestEntry(t *testing.T) {
	vl := vltest.Start(t)
	rs, err := querytest.Reports(1, end)
	if err != nil {
		t.Fatal(err)
	}
	first, last := rs[0], rs[0]
	first.Occurrences, last.Occurrences = 1, 2
	first.Fields = maps.Clone(first.Fields)
	word := "onlyinthefirstentry"
	first.Fields["custom.note"] = &word
	var entries []vltest.Entry
	for i, r := range []*report.Report{&first, &last} {
		e, err := querytest.JournalEntry(r, "/r.md", end.Add(time.Duration(i)*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, e)
	}
	vl.Ingest(t, entries)
	vl.Flush(t)
	f, _ := NewFleet(FleetOptions{URL: vl.URL})
	for _, tt := range []struct {
		grep string
		want int
	}{{word, 0}, {"", 1}} {
		es, err := f.List(context.Background(), Filter{Grep: tt.grep})
		if err != nil || len(es) != tt.want || tt.want == 1 && es[0].Occurrences != 2 {
			t.Errorf("grep %q: %v %+v, want %d reports", tt.grep, err, es, tt.want)
		}
	}
}

func TestFleetFollow(t *testing.T) {
	vl := vltest.Start(t)
	rs, err := querytest.Reports(3, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	f, _ := NewFleet(FleetOptions{URL: vl.URL})
	f.poll = 100 * time.Millisecond
	ingest := func(r report.Report, at time.Time) {
		e, err := querytest.JournalEntry(&r, "/r.md", at)
		if err != nil {
			t.Fatal(err)
		}
		vl.Ingest(t, []vltest.Entry{e})
		vl.Flush(t)
	}
	old := rs[2]
	ingest(old, time.Now().Add(-time.Minute)) // history: not shown
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	changes := make(chan Change, 10)
	done := make(chan error, 1)
	go func() {
		done <- f.Follow(ctx, Filter{}, func(c Change) error { changes <- c; return nil })
	}()
	time.Sleep(500 * time.Millisecond) // the first look
	r := rs[0]
	r.Occurrences = 1
	ingest(r, time.Now())
	r.Occurrences = 4
	ingest(r, time.Now())
	var got []string
	for len(got) == 0 || !strings.HasSuffix(got[len(got)-1], " 4 true") && !strings.HasSuffix(got[len(got)-1], " 4 false") {
		select {
		case c := <-changes:
			got = append(got, fmt.Sprintf("%s %d %v", c.Entry.ID, c.Entry.Occurrences, c.New))
		case <-ctx.Done():
			t.Fatalf("changes seen: %v", got)
		}
	}
	// The two writes may be seen in one look: then only the final count.
	both := []string{fmt.Sprintf("%s 1 true", r.ID), fmt.Sprintf("%s 4 false", r.ID)}
	if !reflect.DeepEqual(got, both) && !reflect.DeepEqual(got, []string{fmt.Sprintf("%s 4 true", r.ID)}) {
		t.Errorf("changes %v", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Error(err)
	}
}

func TestNewFleetRefuses(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(notPEM, []byte("nothing"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		o    FleetOptions
		want string
	}{
		{FleetOptions{URL: "logs.example:9428"}, "want http:// or https://"},
		{FleetOptions{URL: "ftp://logs.example"}, "want http:// or https://"},
		{FleetOptions{URL: "https://admin:secret@logs.example"}, "process list"},
		{FleetOptions{URL: "http://logs.example:9428", User: "u", Password: "p"}, "in clear"},
		{FleetOptions{URL: "https://logs.example?x=1"}, "no query"},
		{FleetOptions{URL: "https://logs.example", Tenant: "1"}, "AccountID:ProjectID"},
		{FleetOptions{URL: "https://logs.example", CA: notPEM}, "no PEM certificate"},
		{FleetOptions{URL: "https://logs.example", Cert: notPEM}, "both the certificate and its key"},
	}
	for _, tt := range tests {
		_, err := NewFleet(tt.o)
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "secret") {
			t.Errorf("%+v: %v", tt.o, err)
		}
	}
	if _, err := NewFleet(FleetOptions{URL: "http://127.0.0.1:9428", User: "u", Password: "p"}); err != nil {
		t.Errorf("basic auth to loopback over http: %v", err)
	}
}
