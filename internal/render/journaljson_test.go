package render_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/falco-reporter/falco-reporter/internal/event"
	"github.com/falco-reporter/falco-reporter/internal/render"
	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/rules"
	"github.com/falco-reporter/falco-reporter/internal/safe"
)

const journalMax = 32 << 10

// TestJournalJSONWhole: a report that fits is its JSON report, without
// the newline.
func TestJournalJSONWhole(t *testing.T) {
	a := alertWith("Create Hardlink Over Sensitive Files", "/etc/shadow")
	r, _ := rules.Default().Build(&a)
	js, cut, err := render.JournalJSON(&r, journalMax)
	if err != nil || cut != "" {
		t.Fatalf("cut %q, err %v", cut, err)
	}
	full, _ := render.JSON(&r)
	if !bytes.Equal(append(js, '\n'), full) {
		t.Error("REPORT_JSON is not the JSON report")
	}
}

// TestJournalJSONCutSteps: each step leaves out what it says, keeps what
// a listing needs, and the result is valid JSON within the limit, with no
// byte journald or a terminal would need escaped.
func TestJournalJSONCutSteps(t *testing.T) {
	big := strings.Repeat("B", 20<<10)
	tests := []struct {
		name    string
		value   string // every value of the alert
		long    string // the command line and the output
		extra   int    // extra fields of that value
		samples bool
		ev      bool // a snapshot with every list full
		max     int
		cut     string
	}{
		{name: "large snapshot", value: "v", ev: true, max: journalMax, cut: render.CutSamplesFields},
		{name: "many fields", value: "v", extra: 4000, max: journalMax, cut: render.CutSamplesFields},
		{name: "samples", value: strings.Repeat("s", 200), samples: true, max: journalMax, cut: render.CutSamplesFields},
		{name: "long command line", value: "v", long: big, max: journalMax, cut: render.CutLongValues},
		{name: "hostile values everywhere", value: strings.Repeat("\x1b", 20<<10), max: journalMax, cut: render.CutToListing},
		{name: "tiny limit", value: "v", max: 560, cut: render.CutToIdentity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := alertWith("Create Hardlink Over Sensitive Files", tt.value)
			for i := range tt.extra {
				a.Fields[strings.Repeat("x", 40)+string(rune('a'+i%26))+strings.Repeat("y", i/26)] = a.Fields["proc.name"]
			}
			if tt.long != "" {
				a.Fields["proc.cmdline"], a.Output = event.Str(tt.long), tt.long
			}
			r, _ := rules.Default().Build(&a)
			r.ID = "0123456789abcdef"
			if tt.samples {
				r.Samples = map[string][]string{}
				for i := range 200 {
					r.Samples[strings.Repeat("f", i+1)] = []string{tt.value, tt.value}
				}
			}
			if tt.ev {
				r.Evidence = fullSnapshot()
			}
			js, cut, err := render.JournalJSON(&r, tt.max)
			if err != nil {
				t.Fatal(err)
			}
			if cut != tt.cut {
				t.Errorf("cut %q, want %q", cut, tt.cut)
			}
			if len(js) > tt.max {
				t.Errorf("%d bytes, limit %d", len(js), tt.max)
			}
			if safe.Display(string(js), 0) != string(js) {
				t.Error("REPORT_JSON has bytes the journal would escape")
			}
			var back report.Report
			if err := json.Unmarshal(js, &back); err != nil {
				t.Fatal(err)
			}
			var raw struct {
				Cut string `json:"journal_cut"`
			}
			_ = json.Unmarshal(js, &raw)
			if raw.Cut != cut || back.ID != r.ID || back.Rule != r.Rule || back.Occurrences != r.Occurrences ||
				!back.FirstSeen.Equal(r.FirstSeen.Time) || back.Priority != r.Priority {
				t.Errorf("identity lost: %+v, journal_cut %q", back, raw.Cut)
			}
			if back.Samples != nil {
				t.Error("samples kept")
			}
			for k := range back.Fields {
				if !report.ListingField(k) {
					t.Errorf("field %q kept", k)
				}
			}
			if tt.ev {
				ev := back.Evidence
				if ev == nil || ev.Status != report.EvidenceTaken || ev.Process == nil || ev.Process.SHA256 != r.Evidence.Process.SHA256 ||
					len(ev.Files) != len(r.Evidence.Files) || len(ev.Ancestry) != len(r.Evidence.Ancestry) || len(ev.Sysctls) != 1 {
					t.Errorf("the snapshot's status, process, files, ancestry or sysctls were dropped: %+v", ev)
				} else if len(ev.Process.FDs) != 0 || len(ev.Process.Sockets) != 0 {
					t.Error("the snapshot's descriptors and sockets were kept")
				}
			}
			if cut == render.CutSamplesFields || cut == render.CutLongValues {
				if back.Fields["container.name"] == nil || len(back.Investigation) != len(r.Investigation) {
					t.Error("the listing's fields or the steps were dropped")
				}
				for i, s := range back.Investigation {
					if s.Command != r.Investigation[i].Command {
						t.Errorf("step %d: a command was changed", i)
					}
				}
			}
		})
	}
}

// fullSnapshot is a snapshot at the collector's bounds: 256 descriptors,
// 64 sockets, 32 ancestors with 4 KiB command lines, 8 long paths.
func fullSnapshot() *report.Evidence {
	long := strings.Repeat("a", 4000)
	p := &report.Process{PID: 42, Exe: "/usr/bin/x", SHA256: strings.Repeat("0", 64), Cmdline: []string{"x", long}}
	for i := range 256 {
		p.FDs = append(p.FDs, report.FD{Num: i, Target: "/var/lib/" + strings.Repeat("d", 200)})
	}
	for i := range 64 {
		p.Sockets = append(p.Sockets, report.Socket{FD: i, Proto: "tcp", Local: "127.0.0.1:1", Remote: "127.0.0.1:2", State: "ESTABLISHED"})
	}
	ev := &report.Evidence{Status: report.EvidenceTaken, PID: 42, Process: p, Sysctls: []report.Sysctl{{Name: "fs.protected_hardlinks", Value: "1"}}}
	for i := range 32 {
		ev.Ancestry = append(ev.Ancestry, report.Ancestor{PID: 100 + i, Exe: "/bin/sh", Cmdline: []string{"sh", "-c", long}})
	}
	for i := range 8 {
		ev.Files = append(ev.Files, report.FileStat{Path: "/" + strings.Repeat(string(rune('a'+i)), 3000), Type: "file"})
	}
	return ev
}
