package main

import (
	"bufio"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// demoDir runs the real demo once into a temporary directory: 13 reports
// of 2026-04-02 in Markdown, JSON and HTML.
func demoDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "falco reports") // a space, as users have
	if out, errOut, code := runBin(t, "", "demo", "--dir", dir); code != 0 {
		t.Fatalf("demo: %d\n%s%s", code, out, errOut)
	}
	return dir
}

func TestListCommand(t *testing.T) {
	dir := demoDir(t)
	day := filepath.Join(dir, "2026-04-02")
	if err := os.WriteFile(filepath.Join(day, "broken.json"), []byte(`{"id":`), 0o640); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args      []string
		rows      int
		want      string // in stdout
		wantErr   string // in stderr
		wantCode  int
		notInRows string
	}{
		{args: nil, rows: 13, want: "Write below binary dir", wantErr: "warning: skipped " + filepath.Join(day, "broken.json") + ": malformed JSON"},
		{args: []string{"--priority", "critical"}, rows: 2},
		{args: []string{"--priority", "warning"}, rows: 8},
		{args: []string{"--rule", "*shell*"}, rows: 2},
		{args: []string{"--host", "node-7", "--source", "internal"}, rows: 1, want: "syscall event drop"},
		{args: []string{"--container", "c0ffee1234ab"}, rows: 3},
		{args: []string{"--container", "c0ffee1234ab", "--since", "2026-04-02T10:00:01Z", "--until", "2026-04-02T10:00:05Z"}, rows: 2},
		{args: []string{"--container", "host", "--exe", "/usr/bin/curl"}, rows: 1, want: "Write below binary dir"},
		{args: []string{"--grep", "/ETC/SHADOW"}, rows: 2},
		{args: []string{"--since", "1h"}, rows: 0, wantErr: "no reports match"},
		{args: []string{"--limit", "3"}, rows: 3, notInRows: "Terminal shell in container"},
		{args: []string{"--since", "soon"}, wantCode: 2, wantErr: "--since"},
		{args: []string{"--priority", "loud"}, wantCode: 2, wantErr: "unknown priority"},
		{args: []string{"--dir", filepath.Join(dir, "missing")}, wantCode: 1, wantErr: "no such file"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			args := append([]string{"list", "--dir", dir}, tt.args...)
			out, errOut, code := runBin(t, "", args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\n%s", code, tt.wantCode, errOut)
			}
			if !strings.Contains(out, tt.want) || !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stdout:\n%s\nstderr:\n%s", out, errOut)
			}
			if tt.wantCode != 0 {
				return
			}
			if strings.Count(errOut, "broken.json") != 1 {
				t.Errorf("the malformed file is not warned about exactly once:\n%s", errOut)
			}
			rows := 0
			if out != "" {
				rows = strings.Count(out, "\n") - 1 // the header
			}
			if rows != tt.rows {
				t.Errorf("%d rows, want %d:\n%s", rows, tt.rows, out)
			}
			if tt.notInRows != "" && strings.Contains(out, tt.notInRows) {
				t.Errorf("%q listed", tt.notInRows)
			}
		})
	}

	out, _, code := runBin(t, "", "list", "--dir", dir, "--json", "--rule", "Write below binary dir")
	var e struct {
		ID, Rule, Subject string
		Files             struct{ JSON, Markdown, HTML string }
	}
	if code != 0 || json.Unmarshal([]byte(out), &e) != nil || e.Rule != "Write below binary dir" || e.Subject != "host" ||
		!strings.HasSuffix(e.Files.HTML, ".html") || !strings.HasSuffix(e.Files.Markdown, ".md") {
		t.Errorf("list --json: %q", out)
	}
}

func TestShowCommand(t *testing.T) {
	dir := demoDir(t)
	out, _, _ := runBin(t, "", "list", "--dir", dir, "--json", "--rule", "Write below binary dir")
	var e struct {
		ID    string
		Files struct{ JSON, Markdown string }
	}
	if err := json.Unmarshal([]byte(out), &e); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(e.Files.Markdown)
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{e.ID, e.ID[:6], e.Files.JSON, e.Files.Markdown} {
		out, errOut, code := runBin(t, "", "show", "--dir", dir, ref)
		if code != 0 || out != string(md) {
			t.Errorf("show %s: exit %d, stdout is not the Markdown report\n%s", ref, code, errOut)
		}
	}
	out, _, code := runBin(t, "", "show", e.ID, "--dir", dir, "--format", "json")
	var r struct{ ID, Rule string }
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil || r.ID != e.ID || strings.Count(out, "\n") != 1 {
		t.Errorf("show --format json: %q", out)
	}
	_, errOut, code := runBin(t, "", "show", "--dir", dir, "zzzz")
	if code != 1 || !strings.Contains(errOut, "no report id starts with") {
		t.Errorf("unknown id: %d %s", code, errOut)
	}
	_, errOut, code = runBin(t, "", "show", "--dir", dir)
	if code != 2 || !strings.Contains(errOut, "usage") {
		t.Errorf("no id: %d %s", code, errOut)
	}
}

// TestShowOnATerminal runs show under a pseudo-terminal (script(1)): the
// report is drawn by glamour in colour and handed to the pager.
func TestShowOnATerminal(t *testing.T) {
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("script(1) not found")
	}
	dir := demoDir(t)
	out, _, _ := runBin(t, "", "list", "--dir", dir, "--json", "--rule", "Write below binary dir")
	var e struct{ ID string }
	if err := json.Unmarshal([]byte(out), &e); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("script", "-qec", binary+" show --dir '"+dir+"' "+e.ID, "/dev/null")
	cmd.Env = append(os.Environ(), "TERM=xterm-256color", "COLUMNS=100", "LINES=40", "FALCO_REPORTER_PAGER=sed s/^/PAGED:/")
	got, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v\n%s", err, got)
	}
	text := string(got)
	if !strings.Contains(text, "PAGED:") || !strings.Contains(text, "\x1b[") {
		t.Fatalf("not paged or not drawn for a terminal:\n%.2000s", text)
	}
	plain := regexp.MustCompile("\x1b\\[[0-9;]*m").ReplaceAllString(text, "")
	for _, want := range []string{"Write below binary dir", "then dpkg -S -- /usr/bin/.sshd /bin/.sshd; elif command -v rpm >/dev/null 2>&1; then rpm -qf -- /usr/bin/.sshd /bin/.sshd;"} {
		if !strings.Contains(plain, want) {
			t.Errorf("%q not shown:\n%.3000s", want, plain)
		}
	}
	if strings.Contains(plain, "```") || strings.Contains(plain, "**") {
		t.Error("code fences or emphasis are raw Markdown")
	}
}

func TestSummaryCommand(t *testing.T) {
	dir := demoDir(t)
	out, errOut, code := runBin(t, "", "summary", "--dir", dir, "--since", "2026-04-02T09:00:00Z", "--until", "2026-04-02T11:00:00Z")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"13 incidents, 13 alerts", "By priority", "Critical", "By rule", "By host", "node-7", "By source", "Most occurrences", "Incidents per hour", "2026-04-02 10:00Z  ████"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	out, _, code = runBin(t, "", "summary", "--dir", dir, "--since", "2026-04-02", "--json")
	var d struct {
		Reports    int
		ByPriority []struct{ Key string } `json:"by_priority"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &d) != nil || d.Reports != 13 || d.ByPriority[0].Key != "Critical" {
		t.Errorf("summary --json: %s", out)
	}
}

// TestFollowCommand starts follow, writes reports as the daemon does
// (rename into place), and reads one line per new or updated report.
func TestFollowCommand(t *testing.T) {
	dir := demoDir(t)
	out, _, _ := runBin(t, "", "list", "--dir", dir, "--json", "--rule", "Clear Log Activities")
	var e struct {
		Files struct{ JSON string }
	}
	if err := json.Unmarshal([]byte(out), &e); err != nil {
		t.Fatal(err)
	}
	orig, err := os.ReadFile(e.Files.JSON)
	if err != nil {
		t.Fatal(err)
	}
	// follow takes a report written within a second before it started
	// for new; the fixture reports were written just now, so date them
	// back as if the daemon had written them an hour ago.
	old := time.Now().Add(-time.Hour)
	if err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(p, old, old)
	}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "follow", "--dir", dir, "--priority", "warning")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// follow says it has started before its first look at the directory.
	started, err := bufio.NewReader(stderr).ReadString('\n')
	if err != nil || !strings.Contains(started, "following") {
		t.Fatalf("follow's first words: %q, %v", started, err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	lines := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	replace := func(name string, data []byte) {
		tmp := filepath.Join(filepath.Dir(e.Files.JSON), ".tmp-"+name)
		if err := os.WriteFile(tmp, data, 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(filepath.Dir(e.Files.JSON), name)); err != nil {
			t.Fatal(err)
		}
	}
	next := func() string {
		select {
		case l := <-lines:
			return l
		case <-time.After(10 * time.Second):
			t.Fatal("no line from follow within 10 s")
		}
		return ""
	}
	// Written right away, while follow may not have read the directory
	// yet: it must not be missed.
	replace("new-report.json", []byte(strings.Replace(string(orig), `"id":"`, `"id":"feed`, 1)))
	if l := next(); !strings.Contains(l, " new ") || !strings.Contains(l, "feed") || !strings.Contains(l, "Clear Log Activities") {
		t.Errorf("line for the new report: %q", l)
	}
	replace(filepath.Base(e.Files.JSON), []byte(strings.Replace(string(orig), `"occurrences":1`, `"occurrences":4`, 1)))
	if l := next(); !strings.Contains(l, " update ") || !strings.Contains(l, "×4") {
		t.Errorf("line for the update: %q", l)
	}
	// Below the priority filter: no line.
	notice := strings.Replace(string(orig), `"priority":"Warning"`, `"priority":"Notice"`, 1)
	replace("notice.json", []byte(strings.Replace(notice, `"id":"`, `"id":"beef`, 1)))
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for l := range lines {
		t.Errorf("unexpected line: %q", l)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("follow did not exit 0 on SIGINT: %v", err)
	}
}
