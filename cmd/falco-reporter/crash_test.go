package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
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

// daemon starts `falco-reporter run` with an HTTP input and waits until
// it answers /healthz.
func daemon(t *testing.T, cfgPath, addr string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(binary, "run", "--config", cfgPath)
	if testing.Verbose() {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			return cmd
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon did not listen on %s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
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
// Falco's file_output writes it, rotates it with the real logrotate while
// the daemon runs and while it is stopped, and checks that every line is
// reported exactly once.
func TestFileInputFollowsRotation(t *testing.T) {
	needTool(t, "logrotate")
	dir := t.TempDir()
	events := filepath.Join(dir, "events.json")
	cfg := filepath.Join(dir, "c.yaml")
	// 60 distinct alerts of one rule would be a storm; each must be its
	// own report here, so storm folding is off.
	os.WriteFile(cfg, []byte(fmt.Sprintf("falco:\n  file:\n    path: %s\nstate_dir: %s/state\nreports:\n  dir: %s/reports\nincidents:\n  storm:\n    incidents: 0\njournal:\n  reports: false\nlog:\n  output: console\n", events, dir, dir)), 0o600)
	conf := filepath.Join(dir, "logrotate.conf")
	os.WriteFile(conf, []byte(events+" {\n    rotate 10\n    create\n}\n"), 0o644)
	appendLines := func(from, to int) {
		f, err := os.OpenFile(events, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for i := from; i < to; i++ {
			f.Write(append(alertJSON(i), '\n'))
		}
	}
	rotate := func() {
		out, err := exec.Command("logrotate", "-f", "-s", filepath.Join(dir, "logrotate.status"), conf).CombinedOutput()
		if err != nil {
			t.Fatalf("logrotate: %v\n%s", err, out)
		}
	}
	waitReported := func(n int) {
		deadline := time.Now().Add(time.Minute)
		for len(reportedFiles(t, filepath.Join(dir, "reports"))) < n {
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d alerts reported after a minute", len(reportedFiles(t, filepath.Join(dir, "reports"))), n)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	run := func() *exec.Cmd {
		cmd := exec.Command(binary, "run", "--config", cfg)
		if testing.Verbose() {
			cmd.Stderr = os.Stderr
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// A failed check must not leave the daemon running.
		t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
		return cmd
	}
	stop := func(cmd *exec.Cmd) {
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("exit: %v", err)
		}
	}
	appendLines(0, 10)
	cmd := run()
	waitReported(10)
	appendLines(10, 20)
	rotate() // rename and create, while the daemon runs
	appendLines(20, 30)
	waitReported(30)
	appendLines(30, 40) // unread when the daemon stops
	stop(cmd)
	appendLines(40, 50)
	rotate() // while the daemon is stopped
	appendLines(50, 60)
	cmd = run()
	waitReported(60)
	stop(cmd)

	got := reportedFiles(t, filepath.Join(dir, "reports"))
	for i := range 60 {
		name := fmt.Sprintf("/etc/secret-%05d", i)
		if got[name] != 1 {
			t.Errorf("%s reported %d times, want once", name, got[name])
		}
	}
}
