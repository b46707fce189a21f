package render_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/falco-reporter/falco-reporter/internal/evidence"
	"github.com/falco-reporter/falco-reporter/internal/render"
	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/rules"
)

// snapshot is a snapshot whose every host string is v.
func snapshot(v string) *report.Evidence {
	at := report.Time{Time: time.Date(2026, 4, 2, 10, 0, 0, 45_000_000, time.UTC)}
	mt := report.Time{Time: time.Date(2026, 4, 2, 9, 59, 0, 0, time.UTC)}
	no := false
	return &report.Evidence{
		Status: report.EvidenceTaken, PID: 4242, TakenAt: &at, DelayMS: 45, TookMS: 3.2,
		Process: &report.Process{
			PID: 4242, PPID: 4200, Start: report.Time{Time: at.Add(-time.Minute)},
			Exe: "/tmp/.cache/" + v, ExeDeleted: true, SHA256: strings.Repeat("ab", 32), ExeSize: 1234,
			Cmdline: []string{"/tmp/.cache/" + v, "-c", v}, Cwd: "/tmp/" + v,
			UIDs: []int{1000, 0, 0, 0}, GIDs: []int{1000, 1000, 1000, 1000},
			Capabilities: report.Capabilities{Effective: "00000000000000c0", Permitted: "00000000000000c0",
				Inheritable: "0000000000000000", Bounding: "000001ffffffffff", Ambient: "0000000000000000",
				Names: []string{"CAP_SETGID", "CAP_SETUID"}},
			Cgroup:     []string{"0::/system.slice/" + v},
			Namespaces: []report.Namespace{{Type: "mnt", Inode: 4026532100, Host: &no}},
			FDs:        []report.FD{{Num: 0, Target: "/dev/null"}, {Num: 3, Target: "/etc/" + v}, {Num: 4, Target: "socket:[999]"}},
			Sockets:    []report.Socket{{FD: 4, Proto: "tcp", Local: "10.0.0.5:41000", Remote: "203.0.113.9:4444", State: "ESTABLISHED", Inode: 999}},
		},
		Ancestry: []report.Ancestor{
			{PID: 4200, Exe: "/usr/bin/bash", Cmdline: []string{"bash", "-c", v}},
			{PID: 1, Exe: "/usr/lib/systemd/systemd", Cmdline: []string{"/sbin/init"}},
		},
		Files: []report.FileStat{
			{Path: "/etc/shadow", Type: "file", Mode: "-rw-r-----", Inode: 77, Device: "8:1", Links: 2, GID: 42, Size: 1000, MTime: &mt, SameAs: []string{"/tmp/" + v}},
			{Path: "/tmp/" + v, Type: "file", Mode: "-rw-r-----", Inode: 77, Device: "8:1", Links: 2, GID: 42, Size: 1000, MTime: &mt, SameAs: []string{"/etc/shadow"}},
			{Path: "/tmp/l" + v, Type: "symlink", Mode: "lrwxrwxrwx", Inode: 78, Device: "8:1", Links: 1, Target: "/etc/" + v, MTime: &mt},
			{Path: "/tmp/d/" + v, Error: "not followed: a directory on the way is a symbolic link"},
		},
		Sysctls: []report.Sysctl{{Name: "fs.protected_hardlinks", Value: "1"}, {Name: "kernel.nope", Error: "does not exist"}},
		Notes:   []string{"the command line was cut to 4096 bytes: " + v},
	}
}

func TestEvidenceHostileValuesCannotInject(t *testing.T) {
	a := alertWith("Create Hardlink Over Sensitive Files", "x")
	base, err := rules.Default().Build(&a)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hostile {
		t.Run(h.name, func(t *testing.T) {
			r := base
			r.ID, r.Evidence = "x", snapshot(h.value)
			md := string(render.Markdown(&r))
			js, err := render.JSON(&r)
			if err != nil {
				t.Fatal(err)
			}
			page, err := render.HTML(&r, "../index.html")
			if err != nil {
				t.Fatal(err)
			}
			checkClean(t, md)
			checkClean(t, string(js))
			checkClean(t, string(page))
			if strings.Contains(string(page), "<script") || strings.Contains(string(page), "<img") {
				t.Error("a value made HTML")
			}
			if !strings.Contains(string(page), "<h2>Evidence at alert time</h2>") {
				t.Error("no evidence section in the HTML page")
			}
			checkMarkdown(t, md)
			if len(md) > 400<<10 || len(js) > 1<<20 {
				t.Errorf("markdown %d bytes, JSON %d: long values are not capped", len(md), len(js))
			}
			if !json.Valid(js) {
				t.Error("invalid JSON")
			}
			if !strings.Contains(md, "## Evidence at alert time") {
				t.Error("no evidence section")
			}
			for _, line := range strings.Split(md, "\n") {
				if strings.HasPrefix(line, "|") && strings.Count(stripCode(line), "|")-strings.Count(stripCode(line), `\|`) > 10 {
					t.Errorf("a value added table cells: %q", trunc(line))
				}
			}
		})
	}
}

func TestEvidenceGolden(t *testing.T) {
	a := alertWith("Create Hardlink Over Sensitive Files", "/tmp/x")
	r, err := rules.Default().Build(&a)
	if err != nil {
		t.Fatal(err)
	}
	r.ID, r.Evidence = "e1", snapshot("x")
	evidence.Annotate(&r) // as the daemon does: the steps the snapshot answers say so
	golden(t, "evidence-hardlink.md", render.Markdown(&r))
	page, err := render.HTML(&r, "../index.html")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "evidence-hardlink.html", page)
	for _, ev := range []*report.Evidence{
		{Status: report.EvidenceOff},
		{Status: report.EvidenceExited, PID: 9, Reason: "process 9 had exited when the collector looked, 12 ms after the alert"},
	} {
		r.Evidence = ev
		md := string(render.Markdown(&r))
		i := strings.Index(md, "## Evidence at alert time")
		if i < 0 {
			t.Fatalf("%s: no evidence section", ev.Status)
		}
		golden(t, "evidence-"+ev.Status+".md", []byte(md[i:strings.Index(md, "## Why it matters")]))
	}
}
