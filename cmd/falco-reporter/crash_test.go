package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// freePort returns a loopback address that is free right now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func alertJSON(i int) []byte {
	return []byte(strings.NewReplacer("/etc/shadow", fmt.Sprintf("/etc/secret-%05d", i)).Replace(sample))
}

// reportedFiles returns the fd.name of every JSON report in dir.
func reportedFiles(t *testing.T, dir string) map[string]int {
	t.Helper()
	out := map[string]int{}
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.json"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var r struct {
			Occurrences int                `json:"occurrences"`
			Fields      map[string]*string `json:"fields"`
		}
		if json.Unmarshal(data, &r) != nil || r.Fields["fd.name"] == nil {
			t.Errorf("%s: unreadable or truncated report", f)
			continue
		}
		out[*r.Fields["fd.name"]] += r.Occurrences
	}
	return out
}

// TestFileInputFollowsRotation runs the daemon on a file of JSON alerts as
// Falco's file_output writes it, rotates the file, restarts the daemon,
// and checks that every line is reported exactly once.
func TestFileInputFollowsRotation(t *testing.T) {
	dir := t.TempDir()
	events := filepath.Join(dir, "events.json")
	cfg := filepath.Join(dir, "c.yaml")
	maddr := freePort(t)
	os.WriteFile(cfg, []byte(fmt.Sprintf("falco:\n  file:\n    path: %s\nstate_dir: %s/state\nreports:\n  dir: %s/reports\njournal:\n  reports: false\nlog:\n  output: console\nmetrics:\n  listen: %s\n", events, dir, dir, maddr)), 0o600)
	d := &onceDaemon{t: t, cfg: cfg, metrics: "http://" + maddr + "/metrics"}
	appendLines := func(path string, from, to int) {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for i := from; i < to; i++ {
			f.Write(append(alertJSON(i), '\n'))
		}
	}
	// Each step waits until the daemon has received the lines it must
	// (its counter starts at 0 in each run), so that a slow machine cannot
	// make it miss lines or get SIGTERM before it reads them.
	const received = "falco_reporter_alerts_received_total"
	appendLines(events, 0, 10)
	d.start()
	d.waitMetric(received, 10)
	appendLines(events, 10, 20)
	os.Rename(events, events+".1") // logrotate's rename-and-create
	appendLines(events, 20, 30)
	d.waitMetric(received, 30)
	d.settle()
	appendLines(events, 30, 40) // written while the reporter is down
	d.start()
	d.waitMetric(received, 10)
	d.settle()

	got := reportedFiles(t, filepath.Join(dir, "reports"))
	for i := range 40 {
		name := fmt.Sprintf("/etc/secret-%05d", i)
		if got[name] != 1 {
			t.Errorf("%s reported %d times, want once", name, got[name])
		}
	}
}
